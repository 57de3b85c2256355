// The media layer of the SIP user agent: G.711 audio over RTP/RTCP (RFC 3550, 3551), SDP
// offer/answer (RFC 4566, 3264), DTMF as RFC 4733 events or SIP INFO bodies, and the audio
// sources and sinks a door intercom plays and records (tones, WAV files, ALSA). It depends
// on nothing above it: the UA hands it SDP text and a NegotiatedMedia, and gets digits back.
export * from './constants.ts';
export * from './g711.ts';
export * from './rtp.ts';
export * from './rtcp.ts';
export * from './rtp-statistics.ts';
export * from './rtcp-reporter.ts';
export * from './sdp.ts';
export * from './dtmf.ts';
export * from './audio.ts';
export * from './wav.ts';
export * from './alsa.ts';
export * from './audio-spec.ts';
export * from './tone-detector.ts';
export * from './rtp-sockets.ts';
export * from './media-session.ts';
