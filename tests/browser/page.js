// Runs inside headless Chromium. run.mjs calls window.e2e.start(cfg) and window.e2e.command(cmd);
// everything observed goes back through window.__report(obj) (exposed by run.mjs) as events.
'use strict';
(function () {
  const LK = window.LivekitClient;
  const report = (ev, data) => {
    try {
      window.__report(Object.assign({ ev, t: Math.round(performance.now()) }, data || {}));
    } catch (e) {
      console.error('report failed', e);
    }
  };
  const safe = (v) => {
    try {
      return JSON.parse(JSON.stringify(v, (k, x) => (typeof x === 'bigint' ? String(x) : x)));
    } catch (e) {
      return String(v);
    }
  };
  let room = null;
  let audioCtx = null;
  const timers = [];
  const localTracks = [];

  function ctx() {
    if (!audioCtx) audioCtx = new AudioContext({ sampleRate: 48000 });
    if (audioCtx.state !== 'running') audioCtx.resume().catch(() => {});
    return audioCtx;
  }

  // Level of a remote audio track with a WebAudio AnalyserNode: every 500 ms the highest RMS
  // (of 100 ms samples, full scale 1.0) and the strongest frequency.
  function measure(track, participant) {
    // Chromium only feeds remote WebRTC audio to WebAudio when the stream also plays in a media element.
    const el = track.attach();
    el.muted = false;
    document.body.appendChild(el);
    const ac = ctx();
    const src = ac.createMediaStreamSource(new MediaStream([track.mediaStreamTrack]));
    const an = ac.createAnalyser();
    an.fftSize = 2048;
    src.connect(an);
    const buf = new Float32Array(an.fftSize);
    const freq = new Float32Array(an.frequencyBinCount);
    let best = 0;
    let bestHz = 0;
    let n = 0;
    timers.push(setInterval(() => {
      an.getFloatTimeDomainData(buf);
      let sum = 0;
      for (let i = 0; i < buf.length; i++) sum += buf[i] * buf[i];
      const rms = Math.sqrt(sum / buf.length);
      if (rms >= best) {
        best = rms;
        an.getFloatFrequencyData(freq);
        let bin = 0;
        for (let i = 1; i < freq.length; i++) if (freq[i] > freq[bin]) bin = i;
        bestHz = Math.round((bin * ac.sampleRate) / an.fftSize);
      }
      if (++n % 5 === 0) {
        report('level', {
          from: participant.identity, track: track.sid, rms: best, hz: bestHz, ctx: ac.state,
        });
        best = 0;
        bestHz = 0;
      }
    }, 100));
    // RTP counters of the receiver, for diagnostics.
    timers.push(setInterval(async () => {
      try {
        const stats = await track.receiver.getStats();
        stats.forEach((s) => {
          if (s.type === 'inbound-rtp') {
            report('rtp_in', {
              from: participant.identity, track: track.sid, packets: s.packetsReceived,
              bytes: s.bytesReceived, lost: s.packetsLost, level: s.audioLevel,
            });
          }
        });
      } catch (e) {
        report('stats_error', { text: String(e) });
      }
    }, 1000));
  }

  // A remote video track: its picture size and the codec the receiver decodes, every 500 ms.
  function watchVideo(track, participant) {
    const el = track.attach();
    el.muted = true;
    el.autoplay = true;
    document.body.appendChild(el);
    timers.push(setInterval(async () => {
      let codec = null;
      let framesDecoded = 0;
      try {
        const stats = await track.receiver.getStats();
        const byId = new Map();
        stats.forEach((s) => byId.set(s.id, s));
        stats.forEach((s) => {
          if (s.type === 'inbound-rtp' && s.kind === 'video') {
            framesDecoded = s.framesDecoded || 0;
            const c = byId.get(s.codecId);
            codec = c ? c.mimeType : null;
          }
        });
      } catch (e) {
        report('stats_error', { text: String(e) });
      }
      report('video', {
        from: participant.identity, track: track.sid, width: el.videoWidth, height: el.videoHeight,
        codec, framesDecoded,
      });
    }, 500));
  }

  function watchSender(track) {
    timers.push(setInterval(async () => {
      try {
        if (!track.sender) return;
        const stats = await track.sender.getStats();
        stats.forEach((s) => {
          if (s.type === 'outbound-rtp') {
            report('rtp_out', { track: track.sid, packets: s.packetsSent, bytes: s.bytesSent });
          }
        });
      } catch (e) {
        report('stats_error', { text: String(e) });
      }
    }, 1000));
  }

  // Which simulcast layers the browser sends (dynacast turns them off and on).
  function watchEncodings(track) {
    timers.push(setInterval(() => {
      if (!track.sender) return;
      const encodings = track.sender.getParameters().encodings || [];
      report('encodings', { track: track.sid, active: encodings.filter((e) => e.active).map((e) => e.rid) });
    }, 500));
  }

  async function publishAudio(kind) {
    let track;
    if (kind === 'oscillator') {
      const ac = ctx();
      const osc = ac.createOscillator();
      osc.frequency.value = 660;
      const gain = ac.createGain();
      gain.gain.value = 0.5;
      const dest = ac.createMediaStreamDestination();
      osc.connect(gain).connect(dest);
      osc.start();
      track = new LK.LocalAudioTrack(dest.stream.getAudioTracks()[0], undefined, false);
      await room.localParticipant.publishTrack(track, { name: 'oscillator', source: LK.Track.Source.Microphone });
    } else {
      // The fake microphone of --use-fake-device-for-media-stream (a beep).
      const pub = await room.localParticipant.setMicrophoneEnabled(true);
      track = pub && pub.track;
    }
    if (!track) throw new Error('no local audio track after publishing');
    localTracks.push(track);
    watchSender(track);
    return track;
  }

  async function start(cfg) {
    report('step', { name: 'start', version: LK.version, protocol: LK.protocolVersion });
    LK.setLogLevel(cfg.logLevel || 'debug');
    LK.setLogExtension((level, msg, context) => {
      report('lk', { level, msg, context: context === undefined ? undefined : safe(context) });
    });
    room = new LK.Room({ adaptiveStream: false, dynacast: !!cfg.dynacast });
    const E = LK.RoomEvent;
    room
      .on(E.SignalConnected, () => report('signal_connected'))
      .on(E.ConnectionStateChanged, (state) => report('connection_state', { state }))
      .on(E.ParticipantConnected, (p) => report('participant_connected', { identity: p.identity, sid: p.sid }))
      .on(E.ParticipantDisconnected, (p) => report('participant_disconnected', { identity: p.identity }))
      .on(E.TrackPublished, (pub, p) => report('track_published', { from: p.identity, track: pub.trackSid, kind: pub.kind }))
      .on(E.TrackSubscribed, (track, pub, p) => {
        report('track_subscribed', { from: p.identity, track: track.sid, kind: track.kind });
        if (track.kind === 'audio') measure(track, p);
        if (track.kind === 'video') watchVideo(track, p);
      })
      .on(E.TrackSubscriptionFailed, (sid, p, err) => report('track_subscription_failed', {
        track: sid, from: p && p.identity, error: String(err),
      }))
      .on(E.DataReceived, (payload, p, kind, topic) => report('data', {
        from: p ? p.identity : null, topic: topic === undefined ? null : topic, kind,
        text: new TextDecoder().decode(payload),
      }))
      .on(E.MediaDevicesError, (e) => report('media_devices_error', { error: String(e) }))
      .on(E.Disconnected, (reason) => report('disconnected', { reason }));

    report('step', { name: 'connect', url: cfg.url });
    await room.connect(cfg.url, cfg.token, { autoSubscribe: true });
    report('connected', {
      identity: room.localParticipant.identity,
      sid: room.localParticipant.sid,
      room: room.name,
      remotes: Array.from(room.remoteParticipants.values()).map((p) => p.identity),
    });
    if (cfg.publishAudio) {
      report('step', { name: 'publish', audio: cfg.publishAudio });
      const track = await publishAudio(cfg.publishAudio);
      report('published', { track: track.sid, kind: 'audio', source: cfg.publishAudio });
    }
    if (cfg.publishVideo) {
      // The fake camera of --use-fake-device-for-media-stream, in simulcast layers.
      const pub = await room.localParticipant.setCameraEnabled(
        true, { resolution: { width: 640, height: 480, frameRate: 15 } }, { simulcast: true, videoCodec: 'vp8' },
      );
      if (!pub || !pub.track) throw new Error('no local video track after publishing');
      localTracks.push(pub.track);
      report('published', { track: pub.track.sid, kind: 'video', simulcast: true });
      watchEncodings(pub.track);
    }
  }

  async function command(c) {
    if (c.cmd === 'send') {
      await room.localParticipant.publishData(new TextEncoder().encode(c.text), {
        reliable: c.reliable !== false, topic: c.topic,
      });
      report('sent', { text: c.text, topic: c.topic });
    } else if (c.cmd === 'quality') {
      // Ask the server for one simulcast layer of every remote video (as setVideoQuality does).
      const quality = LK.VideoQuality[c.quality];
      room.remoteParticipants.forEach((p) => p.videoTrackPublications.forEach((pub) => pub.setVideoQuality(quality)));
      report('quality_set', { quality: c.quality });
    } else if (c.cmd === 'leave') {
      timers.forEach(clearInterval);
      if (room) await room.disconnect();
      localTracks.forEach((t) => t.stop());
      report('left');
    } else {
      throw new Error('unknown command ' + JSON.stringify(c));
    }
  }

  window.e2e = { start, command };
})();
