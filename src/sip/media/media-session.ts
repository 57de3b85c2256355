// One call's audio: an RTP session (RFC 3550) with one peer over a UDP socket pair. It sends
// a G.711 packet every 20 ms from the source, plays received packets to the sink, reports
// by RTCP, and carries DTMF as RFC 4733 events both ways. No jitter buffer and no loss
// concealment: packets are played as they arrive, which a LAN intercom tolerates.
import { randomBytes } from 'node:crypto';
import type { RemoteInfo, Socket } from 'node:dgram';
import { CodecError } from '../../codec/cursor.ts';
import type { Clock, TimerHandle } from '../../util/clock.ts';
import type { Logger } from '../../util/log.ts';
import type { AudioSink, AudioSource } from './audio.ts';
import {
  FRAME_MS, FRAME_SAMPLES, MEDIA_MAX_CATCH_UP_FRAMES, MEDIA_MAX_DATAGRAM_BYTES, RTCP_INITIAL_DELAY_MS, RTCP_INTERVAL_MS, RTP_UNITS_PER_MS,
} from './constants.ts';
import { DtmfReceiver } from './dtmf-receiver.ts';
import { DtmfSender, type DtmfPacket } from './dtmf-sender.ts';
import { g711Encode } from './g711.ts';
import { PeerAddress } from './peer-address.ts';
import { Playout } from './playout.ts';
import { decodeRtcp } from './rtcp.ts';
import { RtcpReporter } from './rtcp-reporter.ts';
import { decodeRtp, encodeRtp, looksLikeRtcp } from './rtp.ts';
import { bindRtpSocketPair, type PortRange } from './rtp-sockets.ts';
import type { Endpoint, NegotiatedMedia, ReceiveFormat } from './sdp.ts';
import { decodeTelephoneEvent, encodeTelephoneEvent } from './telephone-event.ts';
import { ToneDetector, type ToneDetection } from './tone-detector.ts';

export interface MediaSessionComponents {
  clock: Clock;
  log: Logger;
}

export interface MediaSessionInit {
  /** Local address to bind the sockets on; the one written in SDP. */
  address: string;
  /** Audio to send; closed by `stop()`. */
  source: AudioSource;
  /** Where received audio goes; closed by `stop()`. */
  sink: AudioSink;
  /** Ports to take the pair from. Default: ephemeral ports. */
  portRange?: PortRange;
  /**
   * Symmetric RTP (RFC 4961): send to where the peer's packets come from, and take packets
   * only from there once the first one has arrived. Gets through NAT; trusts the first
   * packet with a negotiated payload type. Default true.
   */
  symmetricRtp?: boolean;
  /** SDES CNAME. Default: 16 random bytes, base64 (RFC 7022 §4.1). */
  cname?: string;
  /** Tone length of each sent digit. Default 100 ms. */
  dtmfToneMs?: number;
  /** Pause between sent digits. Default 50 ms. */
  dtmfGapMs?: number;
  /** Digits that may wait to be sent. Default 32. */
  dtmfQueueLimit?: number;
  /** Mean RTCP report interval (RFC 3550 §6.2). Default 5000 ms. */
  rtcpIntervalMs?: number;
}

export interface MediaCounters {
  rtpSent: number;
  rtpReceived: number;
  /** Datagrams on the RTP port not played: malformed, unknown payload type, wrong source, before start. */
  rtpDropped: number;
  /** RTP datagram bytes. */
  bytesSent: number;
  bytesReceived: number;
  rtcpSent: number;
  rtcpReceived: number;
  rtcpDropped: number;
  /** RFC 3550 A.3 cumulative packets lost from the peer. */
  lost: number;
  /** RFC 3550 A.8 interarrival jitter of the peer's packets, in ms. */
  jitterMs: number;
  /** Digits whose event packets were all sent. */
  dtmfSent: number;
  dtmfReceived: number;
  /** Digits refused: queue full, not started, or no telephone-event negotiated. */
  dtmfRefused: number;
  /** Frame slots skipped because the timer was late by more than a few frames. */
  framesSkipped: number;
  /** Round-trip time from the peer's RTCP reports, when known. */
  rttMs?: number;
}

export type MediaSessionState = 'open' | 'started' | 'stopped';

type DropReason = 'too_large' | 'malformed' | 'not_started' | 'payload_type' | 'source' | 'direction';

function hasSend(n: NegotiatedMedia): boolean {
  return n.direction === 'sendrecv' || n.direction === 'sendonly';
}

function hasRecv(n: NegotiatedMedia): boolean {
  return n.direction === 'sendrecv' || n.direction === 'recvonly';
}

export class MediaSession {
  /** The RTP port; RTCP is on port + 1. */
  readonly port: number;
  readonly address: string;
  /** Called with each DTMF digit received as RFC 4733 events, once per digit. */
  onDtmf: (digit: string) => void = () => {};

  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly rtp: Socket;
  private readonly rtcp: Socket;
  private readonly source: AudioSource;
  private readonly sink: AudioSink;
  private readonly peer: PeerAddress;
  private readonly playout: Playout;
  private readonly rtcpIntervalMs: number;
  private readonly ssrc: number;
  private readonly reporter: RtcpReporter;
  private readonly dtmfSender: DtmfSender;
  private readonly dtmfReceiver: DtmfReceiver;
  private readonly detector = new ToneDetector();
  private currentState: MediaSessionState = 'open';
  private negotiated: NegotiatedMedia | undefined;
  private receiveFormats = new Map<number, ReceiveFormat['format']>();
  private sequence: number;
  private readonly timestampBase: number;
  private startAt = 0;
  private framesDone = 0;
  private markerNext = true;
  private tickTimer: TimerHandle | undefined;
  private rtcpTimer: TimerHandle | undefined;
  private readonly sendFrame = new Int16Array(FRAME_SAMPLES);
  private readonly sendPayload = new Uint8Array(FRAME_SAMPLES);
  private readonly loggedDrops = new Set<DropReason>();
  private sourceFailureLogged = false;
  private readonly count = {
    rtpSent: 0, rtpReceived: 0, rtpDropped: 0, bytesSent: 0, bytesReceived: 0, rtcpSent: 0, rtcpReceived: 0, rtcpDropped: 0,
    dtmfSent: 0, dtmfReceived: 0, dtmfRefused: 0, framesSkipped: 0,
  };

  /** Binds the socket pair; the session sends nothing until `start()`. */
  static async open(components: MediaSessionComponents, init: MediaSessionInit): Promise<MediaSession> {
    const pair = await bindRtpSocketPair(init.address, init.portRange);
    return new MediaSession(components, init, pair.rtp, pair.rtcp, pair.port);
  }

  private constructor(components: MediaSessionComponents, init: MediaSessionInit, rtp: Socket, rtcp: Socket, port: number) {
    this.clock = components.clock;
    this.log = components.log;
    this.address = init.address;
    this.port = port;
    this.rtp = rtp;
    this.rtcp = rtcp;
    this.source = init.source;
    this.sink = init.sink;
    this.peer = new PeerAddress({ log: this.log }, { symmetric: init.symmetricRtp ?? true });
    this.playout = new Playout({ log: this.log }, { sink: init.sink, detector: this.detector });
    this.rtcpIntervalMs = init.rtcpIntervalMs ?? RTCP_INTERVAL_MS;
    // RFC 3550 §5.1: the initial sequence number and timestamp "SHOULD be random"; §8.1: so is the SSRC.
    const random = randomBytes(10);
    this.ssrc = random.readUInt32BE(0);
    this.timestampBase = random.readUInt32BE(4);
    this.sequence = random.readUInt16BE(8);
    this.reporter = new RtcpReporter({ clock: this.clock }, { ssrc: this.ssrc, cname: init.cname ?? randomBytes(16).toString('base64') });
    this.dtmfSender = new DtmfSender({ clock: this.clock, log: this.log }, {
      send: (p) => this.sendDtmfPacket(p),
      timestamp: () => (this.timestampBase + Math.round((this.clock.now() - this.startAt) * RTP_UNITS_PER_MS)) >>> 0,
      onDigitSent: () => { this.count.dtmfSent++; },
      toneMs: init.dtmfToneMs,
      gapMs: init.dtmfGapMs,
      queueLimit: init.dtmfQueueLimit,
    });
    this.dtmfReceiver = new DtmfReceiver({ clock: this.clock, log: this.log }, {
      onDigit: (digit) => {
        if (this.currentState === 'stopped') return;
        this.count.dtmfReceived++;
        this.onDtmf(digit);
      },
    });
    rtp.on('message', (msg: Buffer, rinfo: RemoteInfo) => this.onRtpDatagram(msg, rinfo));
    rtcp.on('message', (msg: Buffer, rinfo: RemoteInfo) => this.onRtcpDatagram(msg, rinfo, false));
    rtp.on('error', (err) => this.log.warn('RTP socket error', { err }));
    rtcp.on('error', (err) => this.log.warn('RTCP socket error', { err }));
  }

  get state(): MediaSessionState {
    return this.currentState;
  }

  /**
   * Starts sending and playing with what offer/answer agreed. Called again (a re-INVITE),
   * it switches codec, peer and direction; the timeline, SSRC and sequence numbers go on.
   */
  start(negotiated: NegotiatedMedia): void {
    if (this.currentState === 'stopped') throw new Error('media session: start() after stop()');
    this.negotiated = negotiated;
    this.peer.reset(negotiated);
    const receive = negotiated.receive ?? [
      { payloadType: negotiated.payloadType, format: negotiated.codec },
      ...(negotiated.telephoneEventPayloadType === undefined ? [] : [{ payloadType: negotiated.telephoneEventPayloadType, format: 'telephone-event' as const }]),
    ];
    this.receiveFormats = new Map(receive.map((r) => [r.payloadType, r.format]));
    this.log.info('media started', {
      codec: negotiated.codec, payloadType: negotiated.payloadType, telephoneEvent: negotiated.telephoneEventPayloadType,
      remote: `${negotiated.remote.address}:${negotiated.remote.port}`, direction: negotiated.direction, port: this.port,
    });
    if (this.currentState === 'started') return;
    this.currentState = 'started';
    this.startAt = this.clock.now();
    this.framesDone = 0;
    this.tick();
    this.scheduleRtcp(RTCP_INITIAL_DELAY_MS * (this.rtcpIntervalMs / RTCP_INTERVAL_MS));
  }

  /**
   * Queues DTMF digits (0-9, *, #, A-D) to send as RFC 4733 events; returns how many were
   * accepted. Refused (and counted) before start, without telephone-event, or past the queue.
   */
  sendDtmf(digits: string): number {
    const n = this.negotiated;
    if (this.currentState !== 'started' || !n || n.telephoneEventPayloadType === undefined || !hasSend(n)) {
      this.count.dtmfRefused += digits.length;
      this.log.warn('DTMF not sent: no telephone-event to send with', { digits: digits.length, state: this.currentState });
      return 0;
    }
    const accepted = this.dtmfSender.enqueue(digits);
    this.count.dtmfRefused += digits.length - accepted;
    return accepted;
  }

  get counters(): MediaCounters {
    const stats = this.reporter.statistics;
    const c: MediaCounters = { ...this.count, lost: Math.max(0, stats.cumulativeLost), jitterMs: stats.jitter / RTP_UNITS_PER_MS };
    if (this.reporter.rttMs !== undefined) c.rttMs = this.reporter.rttMs;
    return c;
  }

  /** The steady tone in the most recently received audio, if there is one. */
  tone(): ToneDetection | null {
    return this.detector.detect();
  }

  /**
   * Sends RTCP BYE (RFC 3550 §6.6) if started, closes the sockets, the source and the sink.
   * Idempotent; nothing is called back afterwards.
   */
  stop(): void {
    if (this.currentState === 'stopped') return;
    const wasStarted = this.currentState === 'started';
    this.currentState = 'stopped';
    this.clock.clearTimeout(this.tickTimer);
    this.clock.clearTimeout(this.rtcpTimer);
    this.tickTimer = undefined;
    this.rtcpTimer = undefined;
    this.dtmfSender.stop();
    this.dtmfReceiver.stop();
    this.closeAudio();
    const to = this.peer.destination('rtcp');
    if (wasStarted && to) {
      // The sockets close once the BYE has left: closing first would discard it.
      this.sendRtcp(to, this.reporter.report({}), () => this.closeSockets());
    } else {
      this.closeSockets();
    }
  }

  // ---- sending ----

  private tick(): void {
    this.tickTimer = undefined;
    if (this.currentState !== 'started') return;
    const now = this.clock.now();
    // Frames whose 20 ms slot has begun: the schedule is anchored at startAt, so a late
    // timer does not shift later packets (drift correction).
    let due = Math.floor((now - this.startAt) / FRAME_MS) + 1 - this.framesDone;
    if (due > MEDIA_MAX_CATCH_UP_FRAMES) {
      // The process stalled: skip the lost slots (the timestamp jumps) rather than burst.
      this.count.framesSkipped += due - MEDIA_MAX_CATCH_UP_FRAMES;
      this.framesDone += due - MEDIA_MAX_CATCH_UP_FRAMES;
      due = MEDIA_MAX_CATCH_UP_FRAMES;
    }
    for (let i = 0; i < due && this.currentState === 'started'; i++) {
      this.sendAudioFrame(this.framesDone);
      this.framesDone++;
    }
    if (this.currentState !== 'started') return;
    const next = this.startAt + this.framesDone * FRAME_MS;
    this.tickTimer = this.clock.setTimeout(() => this.tick(), Math.max(0, Math.ceil(next - this.clock.now())));
  }

  private sendAudioFrame(index: number): void {
    const timestamp = (this.timestampBase + index * FRAME_SAMPLES) >>> 0;
    // The source is read every slot even when nothing is sent, so a live capture stays current.
    try {
      this.source.read(this.sendFrame);
    } catch (err) {
      // A failing sound card must not take the call down with it.
      if (!this.sourceFailureLogged) this.log.warn('audio source failed; sending silence', { err });
      this.sourceFailureLogged = true;
      this.sendFrame.fill(0);
    }
    const n = this.negotiated;
    if (!n || !hasSend(n)) return;
    if (this.dtmfSender.busy) {
      // RFC 4733 §2.5.1.2 lets events and audio alternate; the event stands for the audio of
      // its time. Audio resumes as a new talkspurt (RFC 3551 §4.1: marker bit).
      this.markerNext = true;
      return;
    }
    const payload = g711Encode(n.codec, this.sendFrame, this.sendPayload);
    this.sendRtp(n.payloadType, this.markerNext, timestamp, payload);
    this.markerNext = false;
  }

  private sendDtmfPacket(p: DtmfPacket): void {
    const n = this.negotiated;
    if (this.currentState !== 'started' || !n || n.telephoneEventPayloadType === undefined || !hasSend(n)) return;
    this.sendRtp(n.telephoneEventPayloadType, p.marker, p.timestamp, encodeTelephoneEvent(p.event));
  }

  private sendRtp(payloadType: number, marker: boolean, timestamp: number, payload: Uint8Array): void {
    const to = this.peer.destination('rtp');
    if (!to) return;
    const bytes = encodeRtp({ marker, payloadType, sequenceNumber: this.sequence, timestamp, ssrc: this.ssrc, payload });
    this.sequence = (this.sequence + 1) & 0xffff;
    this.count.rtpSent++;
    this.count.bytesSent += bytes.length;
    this.reporter.noteSent(timestamp, payload.length);
    this.rtp.send(bytes, to.port, to.address, (err) => {
      if (err) this.log.debug('RTP send failed', { err, to: `${to.address}:${to.port}` });
    });
  }

  private scheduleRtcp(meanMs: number): void {
    // RFC 3550 §6.3.1: the interval is randomised over [0.5, 1.5] times the computed one so
    // reports of many participants do not synchronise.
    const delay = meanMs * (0.5 + Math.random());
    this.rtcpTimer = this.clock.setTimeout(() => {
      this.rtcpTimer = undefined;
      if (this.currentState !== 'started') return;
      const to = this.peer.destination('rtcp');
      if (to) this.sendRtcp(to, this.reporter.report());
      this.scheduleRtcp(this.rtcpIntervalMs);
    }, delay);
  }

  private sendRtcp(to: Endpoint, bytes: Uint8Array, done?: () => void): void {
    this.count.rtcpSent++;
    this.rtcp.send(bytes, to.port, to.address, (err) => {
      if (err) this.log.debug('RTCP send failed', { err, to: `${to.address}:${to.port}` });
      done?.();
    });
  }

  // ---- receiving ----

  private drop(reason: DropReason, fields?: Record<string, unknown>): void {
    this.count.rtpDropped++;
    // Logged once per reason: a stream of junk must not become a stream of log lines.
    if (!this.loggedDrops.has(reason)) {
      this.loggedDrops.add(reason);
      this.log.debug('RTP packet dropped', { reason, ...fields });
    }
  }

  private onRtpDatagram(msg: Buffer, rinfo: RemoteInfo): void {
    if (this.currentState === 'stopped') return;
    if (msg.length > MEDIA_MAX_DATAGRAM_BYTES) return this.drop('too_large', { bytes: msg.length });
    // RFC 5761 §4: RTCP multiplexed on the RTP port is told apart by its packet type.
    if (looksLikeRtcp(msg)) return this.onRtcpDatagram(msg, rinfo, true);
    let packet;
    try {
      packet = decodeRtp(msg);
    } catch (err) {
      if (err instanceof CodecError) return this.drop('malformed', { err });
      throw err;
    }
    const n = this.negotiated;
    if (this.currentState !== 'started' || !n) return this.drop('not_started');
    const format = this.receiveFormats.get(packet.payloadType);
    if (format === undefined) return this.drop('payload_type', { payloadType: packet.payloadType });
    if (!hasRecv(n)) return this.drop('direction');
    if (!this.peer.accept('rtp', rinfo.address, rinfo.port)) return this.drop('source', { from: `${rinfo.address}:${rinfo.port}` });
    this.count.rtpReceived++;
    this.count.bytesReceived += msg.length;
    this.reporter.noteReceived(packet.ssrc, packet.sequenceNumber, packet.timestamp, format !== 'telephone-event');
    if (format === 'telephone-event') {
      let event;
      try {
        event = decodeTelephoneEvent(packet.payload);
      } catch (err) {
        if (err instanceof CodecError) return this.drop('malformed', { err });
        throw err;
      }
      this.dtmfReceiver.receive(event, packet.timestamp, packet.marker);
      return;
    }
    this.playout.play(format, packet.payload);
  }

  private onRtcpDatagram(msg: Buffer, rinfo: RemoteInfo, muxed: boolean): void {
    if (this.currentState === 'stopped') return;
    if (msg.length > MEDIA_MAX_DATAGRAM_BYTES) {
      this.count.rtcpDropped++;
      return;
    }
    let packets;
    try {
      packets = decodeRtcp(msg);
    } catch (err) {
      if (err instanceof CodecError) {
        this.count.rtcpDropped++;
        this.log.debug('RTCP packet dropped', { err });
        return;
      }
      throw err;
    }
    if (this.currentState !== 'started' || (!muxed && !this.peer.accept('rtcp', rinfo.address, rinfo.port))) {
      this.count.rtcpDropped++;
      return;
    }
    this.count.rtcpReceived++;
    this.reporter.receive(packets);
  }

  private closeAudio(): void {
    for (const part of [this.source, this.sink]) {
      try {
        part.close();
      } catch (err) {
        this.log.warn('closing audio failed', { err });
      }
    }
  }

  private closeSockets(): void {
    for (const s of [this.rtp, this.rtcp]) {
      try {
        s.close();
      } catch {
        // already closed
      }
    }
  }
}
