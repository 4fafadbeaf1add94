// Length-framed messages over a byte stream (the collector's Unix socket):
// a 4-byte big-endian length, then that many bytes of UTF-8 JSON. A frame over
// the limit, or bytes that are not JSON, end the connection: a peer that breaks
// framing cannot be resynchronised and is not trusted further.

export const MAX_FRAME_BYTES = 8 << 20;

export function encodeFrame(message: unknown): Uint8Array {
  const body = new TextEncoder().encode(JSON.stringify(message));
  if (body.length > MAX_FRAME_BYTES) throw new Error(`message of ${body.length} bytes exceeds the ${MAX_FRAME_BYTES}-byte frame limit`);
  const frame = new Uint8Array(4 + body.length);
  new DataView(frame.buffer).setUint32(0, body.length);
  frame.set(body, 4);
  return frame;
}

export class FrameError extends Error {}

/** Feeds chunks in, gets whole parsed JSON values out. Buffers at most one frame. */
export class FrameDecoder {
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });

  constructor(private readonly maxFrame = MAX_FRAME_BYTES) {}

  /** Returns the messages completed by this chunk; throws FrameError on a broken stream. */
  push(chunk: Uint8Array): unknown[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const out: unknown[] = [];
    for (;;) {
      if (this.buffered < 4) return out;
      const head = this.peek(4);
      const len = new DataView(head.buffer, head.byteOffset, 4).getUint32(0);
      if (len > this.maxFrame) throw new FrameError(`frame of ${len} bytes exceeds the ${this.maxFrame}-byte limit`);
      if (this.buffered < 4 + len) return out;
      const frame = this.take(4 + len).subarray(4);
      let text: string;
      try {
        text = this.decoder.decode(frame);
        out.push(JSON.parse(text));
      } catch {
        throw new FrameError('frame is not valid UTF-8 JSON');
      }
    }
  }

  private peek(n: number): Uint8Array {
    const first = this.chunks[0]!;
    if (first.length >= n) return first;
    this.chunks = [this.concat()];
    return this.chunks[0]!;
  }

  private take(n: number): Uint8Array {
    const all = this.chunks.length === 1 ? this.chunks[0]! : this.concat();
    const head = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length ? [rest] : [];
    this.buffered = rest.length;
    return head;
  }

  private concat(): Uint8Array {
    const all = new Uint8Array(this.buffered);
    let o = 0;
    for (const c of this.chunks) {
      all.set(c, o);
      o += c.length;
    }
    return all;
  }
}
