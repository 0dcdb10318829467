// SM3 (GB/T 32905-2016, GM/T 0004-2012), the digest of China's commercial cryptography.
//
// Written on @noble/hashes' Merkle–Damgård base (HashMD: the same buffering, padding and 64-bit
// big-endian length as SHA-256) because neither @noble/hashes nor any other library of that
// standing ships SM3, and the packages that do (sm-crypto, sm-crypto-v2) are little used and
// would bring a second copy of the noble libraries into the browser bundle. Only the compression
// function below is SM3's own. It is checked against the standard's two examples, against
// OpenSSL's SM3 (node:crypto) over many lengths, and against sm-crypto-v2 and Python's gmssl
// (sm3.test.ts, sm2.test.ts). Pure, streaming, and the same code in Node and the browser.
import { HashMD } from '@noble/hashes/_md.js';
import { clean, createHasher, rotl } from '@noble/hashes/utils.js';

// The initial value V(0) (GB/T 32905 §4.1).
const IV = [0x7380166f, 0x4914b2b9, 0x172442d7, 0xda8a0600, 0xa96f30bc, 0x163138aa, 0xe38dee4d, 0xb0fb0e4e];
// T_j rotated left by j mod 32, precomputed for the 64 rounds (§4.2 and §5.3.3).
const T = Array.from({ length: 64 }, (_, j) => rotl(j < 16 ? 0x79cc4519 : 0x7a879d8a, j % 32) | 0);
// The expanded message W[0..67]; W'[j] = W[j] ^ W[j+4] is computed in the round.
const W = new Uint32Array(68);

const P0 = (x: number) => x ^ rotl(x, 9) ^ rotl(x, 17);
const P1 = (x: number) => x ^ rotl(x, 15) ^ rotl(x, 23);

class Sm3 extends HashMD<Sm3> {
  A = IV[0]! | 0;
  B = IV[1]! | 0;
  C = IV[2]! | 0;
  D = IV[3]! | 0;
  E = IV[4]! | 0;
  F = IV[5]! | 0;
  G = IV[6]! | 0;
  H = IV[7]! | 0;

  constructor() {
    super(64, 32, 8, false);
  }

  protected get(): number[] {
    const { A, B, C, D, E, F, G, H } = this;
    return [A, B, C, D, E, F, G, H];
  }

  protected set(
    A: number,
    B: number,
    C: number,
    D: number,
    E: number,
    F: number,
    G: number,
    H: number,
  ): void {
    this.A = A | 0;
    this.B = B | 0;
    this.C = C | 0;
    this.D = D | 0;
    this.E = E | 0;
    this.F = F | 0;
    this.G = G | 0;
    this.H = H | 0;
  }

  _cloneInto(to?: Sm3): Sm3 {
    const target = to ?? new Sm3();
    target.set(...(this.get() as [number, number, number, number, number, number, number, number]));
    return this._cloneIntoMeta(target);
  }

  // The compression function CF (§5.3.2, §5.3.3).
  protected process(view: DataView, offset: number): void {
    for (let i = 0; i < 16; i++, offset += 4) W[i] = view.getUint32(offset, false);
    for (let j = 16; j < 68; j++) {
      W[j] = P1(W[j - 16]! ^ W[j - 9]! ^ rotl(W[j - 3]!, 15)) ^ rotl(W[j - 13]!, 7) ^ W[j - 6]!;
    }
    let { A, B, C, D, E, F, G, H } = this;
    for (let j = 0; j < 64; j++) {
      const a12 = rotl(A, 12);
      const SS1 = rotl((a12 + E + T[j]!) | 0, 7);
      const SS2 = SS1 ^ a12;
      const ff = j < 16 ? A ^ B ^ C : (A & B) | (A & C) | (B & C);
      const gg = j < 16 ? E ^ F ^ G : (E & F) | (~E & G);
      const TT1 = (ff + D + SS2 + (W[j]! ^ W[j + 4]!)) | 0;
      const TT2 = (gg + H + SS1 + W[j]!) | 0;
      D = C;
      C = rotl(B, 9);
      B = A;
      A = TT1;
      H = G;
      G = rotl(F, 19);
      F = E;
      E = P0(TT2);
    }
    this.set(A ^ this.A, B ^ this.B, C ^ this.C, D ^ this.D, E ^ this.E, F ^ this.F, G ^ this.G, H ^ this.H);
  }

  protected roundClean(): void {
    clean(W);
  }

  destroy(): void {
    this.destroyed = true;
    this.set(0, 0, 0, 0, 0, 0, 0, 0);
    clean(this.buffer);
  }
}

/** SM3 of the bytes (32 bytes). `sm3.create()` gives a streaming hasher (`update`, `digest`). */
export const sm3 = createHasher(() => new Sm3());
