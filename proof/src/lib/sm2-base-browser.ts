// Browser implementation behind `#sm2-base-impl`: none — sm2.ts multiplies with @noble/curves.
export const sm2BaseX: ((k: bigint) => bigint) | undefined = undefined;
