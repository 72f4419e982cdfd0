import React, { useEffect, useRef } from 'react';
import type { RemoteParticipant, RemoteVideoTrack } from 'twilio-video';
import * as OT from '@opentok/client';

type Props = { participant: RemoteParticipant };

// A tile for one participant; <video> gets the twilio-video track.
export function ParticipantTile({ participant }: Props) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const onTrack = (track: RemoteVideoTrack) => ref.current?.appendChild(track.attach());
    participant.on('trackSubscribed', onTrack);
    return () => { participant.off('trackSubscribed', onTrack); };
  }, [participant]);
  const bars = participant.networkQualityLevel ?? 0;
  return <div ref={ref} title="OT.initSession tile" className={`bars-${bars}`}>{participant.identity}</div>;
}

export const supported = OT.checkSystemRequirements() === 1;
