/* global OT */
// OpenTok.js loaded from a <script> tag (the OT global).
export function start(apiKey, sessionId, token) {
  const session = OT.initSession(apiKey, sessionId);
  const publisher = OT.initPublisher('publisher', { insertMode: 'append' }, (err) => {
    if (err && err.name === 'OT_USER_MEDIA_ACCESS_DENIED') alert('allow the camera');
  });
  publisher.on('accessDenied', () => alert('camera blocked'));
  session.on('streamCreated', (event) => {
    session.subscribe(event.stream, 'subscribers', { insertMode: 'append' });
  });
  session.connect(token, (error) => {
    if (error && error.code === OT.ExceptionCodes.CONNECT_FAILED) retry();
    else if (error && error.code === 1004) alert('bad token');
    else session.publish(publisher);
  });
  OT.getDevices((err, devices) => console.log(devices));
}

function retry() { console.log('OT.initSession again'); }
