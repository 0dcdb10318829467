// Browser implementation behind `#sm2-base-impl`: none — sm2.ts multiplies with @noble/curves.
export const sm2BaseX: ((k: bigint) => bigint) | undefined = undefined;
/** None in the browser: sm2.ts signs synchronously. */
export const sm2Nonce: (() => Promise<{ k: bigint; x1: bigint }>) | undefined = undefined;
