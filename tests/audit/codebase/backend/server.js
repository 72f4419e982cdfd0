// Express back end on the twilio node library (twilio-video tokens, status callbacks).
const express = require('express');
const cron = require('node-cron');
const twilio = require('twilio');
const AccessToken = require('twilio').jwt.AccessToken;
const VideoGrant = AccessToken.VideoGrant;

const client = twilio(process.env.TWILIO_API_KEY, process.env['TWILIO_API_SECRET'], { accountSid: process.env.TWILIO_ACCOUNT_SID });
const app = express();

app.post('/token', (req, res) => {
  const token = new AccessToken(process.env.TWILIO_ACCOUNT_SID, 'SK1', 'secret', { identity: req.body.identity });
  token.addGrant(new VideoGrant({ room: req.body.room }));
  res.send(token.toJwt());
});

app.post('/rooms', async (req, res) => {
  const room = await client.video.v1.rooms.create({ uniqueName: req.body.name, type: 'group' });
  res.send(room.sid);
});

app.post('/status', twilio.webhook(), (req, res) => {
  if (req.body.StatusCallbackEvent === 'participant-connected') {
    console.log('joined', req.body.ParticipantIdentity);
  }
  res.sendStatus(204);
});

cron.schedule('*/5 * * * *', async () => {
  const rooms = await client.video.v1.rooms.list({ status: 'in-progress' });
  console.log('open rooms', rooms.length, 'video.twilio.com');
});
