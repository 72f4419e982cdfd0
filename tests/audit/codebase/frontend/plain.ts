// We left twilio-video and @opentok/client; OT.initSession is history.
const note: string = "Video.connect(token) and OT.initSession(apiKey) are gone; TWILIO_API_KEY_SID too";
export function connect(url: string): string {
  return `${note} ${url} require('twilio-video')`;
}
