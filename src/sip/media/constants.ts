// Defaults of the media layer, units in the names, with the RFC sections they come from.

/** RFC 3551 §4.5.14: PCMU and PCMA sample at 8000 Hz; so does telephone-event by default (RFC 4733 §2.1). */
export const SAMPLE_RATE_HZ = 8000;
/** RFC 3551 §4.5: the default packetization interval for audio is 20 ms. */
export const FRAME_MS = 20;
/** Samples in one 20 ms frame at 8 kHz, mono. */
export const FRAME_SAMPLES = (SAMPLE_RATE_HZ * FRAME_MS) / 1000;
/** RTP timestamp units per millisecond at 8 kHz. */
export const RTP_UNITS_PER_MS = SAMPLE_RATE_HZ / 1000;

/** RFC 3551 §6, Table 4: static payload types of G.711. */
export const PAYLOAD_TYPE_PCMU = 0;
export const PAYLOAD_TYPE_PCMA = 8;
/** The dynamic payload type offered for telephone-event (RFC 4733 §2.1 has no static one). */
export const DEFAULT_TELEPHONE_EVENT_PAYLOAD_TYPE = 101;
/** Events offered in fmtp: DTMF 0-15 and flash (16), as phones usually do (RFC 4733 §3.2). */
export const TELEPHONE_EVENTS_OFFERED = '0-16';

/** Largest datagram accepted on the RTP or RTCP socket; more is not a G.711 packet. */
export const MEDIA_MAX_DATAGRAM_BYTES = 1500;
/** RFC 3550 §6.2: 5 s is the RECOMMENDED minimum RTCP interval. */
export const RTCP_INTERVAL_MS = 5000;
/** RFC 3550 §6.2: "the initial delay SHOULD be set to half the minimum interval". */
export const RTCP_INITIAL_DELAY_MS = RTCP_INTERVAL_MS / 2;
/** Senders are late by at most this many frames before the ticker skips ahead instead of bursting. */
export const MEDIA_MAX_CATCH_UP_FRAMES = 3;
/** Attempts to find a free even/odd port pair before `open()` fails. */
export const MEDIA_PORT_ATTEMPTS = 32;

/** RFC 4733 §2.5.1.2: "a value of 50 ms [for event updates] RECOMMENDED". */
export const DTMF_PACKET_INTERVAL_MS = 50;
/** Tone length of one queued digit. */
export const DTMF_TONE_MS = 100;
/** Pause after one digit's packets end before the next digit starts. */
export const DTMF_GAP_MS = 50;
/** RFC 4733 §2.5.1.4: the final packet "SHOULD be sent a total of three times". */
export const DTMF_END_PACKETS = 3;
/** RFC 4733 §2.3.4: power level in -dBm0; 10 is what most phones send. */
export const DTMF_VOLUME_DBM0 = 10;
/** Digits waiting to be sent; more are refused and counted. */
export const DTMF_QUEUE_LIMIT = 32;
/**
 * RFC 4733 §2.5.2.2: a tone "SHOULD NOT be extended by more than three packet interarrival
 * times"; without an end packet an event is over this long after its last packet.
 */
export const DTMF_EVENT_TIMEOUT_MS = 3 * DTMF_PACKET_INTERVAL_MS;
/** Events remembered to recognise late or repeated reports of a digit already delivered. */
export const DTMF_HISTORY_EVENTS = 16;

/** Largest SDP body parsed; a phone's offer is well under 2 KiB. */
export const SDP_MAX_BYTES = 16 * 1024;
/** Lines per description: a bound on the parse. */
export const SDP_MAX_LINES = 512;
/** Media descriptions (m= lines) per session description. */
export const SDP_MAX_MEDIA = 16;

/** Duration written in an `application/dtmf-relay` INFO body when none is given; what most phones put there. */
export const DTMF_INFO_DURATION_MS = 160;

/** Peak amplitude of a tone source when none is given: about -12 dB below full scale. */
export const TONE_DEFAULT_AMPLITUDE = 8000;

/** WAV files read into memory whole; larger files are refused. 16 MiB is ~17 minutes at 8 kHz. */
export const WAV_MAX_FILE_BYTES = 16 * 1024 * 1024;
/** WAV recordings stop growing here (≈70 minutes at 8 kHz); later frames are counted as dropped. */
export const WAV_MAX_DATA_BYTES = 64 * 1024 * 1024;
/** Recorded bytes buffered before they are written to the file (1 s of audio). */
export const WAV_WRITE_CHUNK_BYTES = 16_000;

/** Frames captured from `arecord` waiting to be read; older ones are dropped (bounded latency). */
export const ALSA_CAPTURE_QUEUE_FRAMES = 5;
/** Bytes queued to `aplay`'s stdin before frames are dropped: the pipe is backed up. */
export const ALSA_PLAYBACK_BUFFER_BYTES = 8 * FRAME_SAMPLES * 2;

/** Samples the tone detector analyses: 200 ms, two halves that must agree. */
export const TONE_WINDOW_SAMPLES = 1600;
/** Below this level (dB relative to a full-scale sine) the detector reports no tone. */
export const TONE_MIN_LEVEL_DB = -50;
/** Share of the window's energy that must sit in the detected frequency for a "clean tone". */
export const TONE_MIN_PURITY = 0.8;
