// Received audio on its way out: G.711 payloads of any length decoded and cut into the
// 20 ms frames sinks take (RFC 3551 §4.2 lets a peer's ptime differ from ours), handed to
// the sink and to the tone detector. Played as it arrives: no jitter buffer, no concealment.
import type { Logger } from '../../util/log.ts';
import type { AudioSink } from './audio.ts';
import { FRAME_SAMPLES, MEDIA_MAX_DATAGRAM_BYTES } from './constants.ts';
import { g711Decode, type G711Codec } from './g711.ts';
import type { ToneDetector } from './tone-detector.ts';

export interface PlayoutComponents {
  log: Logger;
}

export interface PlayoutInit {
  sink: AudioSink;
  /** Also fed every frame, so the tone in received audio can be asked for. */
  detector: ToneDetector;
}

export class Playout {
  private readonly log: Logger;
  private readonly sink: AudioSink;
  private readonly detector: ToneDetector;
  private readonly decoded = new Int16Array(MEDIA_MAX_DATAGRAM_BYTES);
  private readonly frame = new Int16Array(FRAME_SAMPLES);
  private fill = 0;
  private failureLogged = false;

  constructor(components: PlayoutComponents, init: PlayoutInit) {
    this.log = components.log;
    this.sink = init.sink;
    this.detector = init.detector;
  }

  /** Decodes one packet's payload; whole frames go out at once, a remainder waits for the next packet. */
  play(codec: G711Codec, payload: Uint8Array): void {
    if (payload.length > this.decoded.length) payload = payload.subarray(0, this.decoded.length);
    const samples = g711Decode(codec, payload, this.decoded);
    let i = 0;
    while (i < samples.length) {
      const n = Math.min(FRAME_SAMPLES - this.fill, samples.length - i);
      this.frame.set(samples.subarray(i, i + n), this.fill);
      this.fill += n;
      i += n;
      if (this.fill === FRAME_SAMPLES) {
        this.fill = 0;
        this.detector.write(this.frame);
        try {
          this.sink.write(this.frame);
        } catch (err) {
          // A failing sound card must not take the call down with it.
          if (!this.failureLogged) this.log.warn('audio sink failed', { err });
          this.failureLogged = true;
        }
      }
    }
  }
}
