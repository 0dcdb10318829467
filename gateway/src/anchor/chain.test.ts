import { describe, expect, it } from 'vitest';
import { firstFees, replacementFees } from './chain.ts';

const gwei = (n: number) => BigInt(Math.round(n * 1e9));
const caps = { maxFeePerGas: gwei(100), maxPriorityFeePerGas: gwei(2) };

describe('firstFees', () => {
  it("takes the node's suggestion within the caps, and at least base fee + tip", () => {
    expect(
      firstFees({ baseFee: gwei(10), maxPriorityFeePerGas: gwei(1), maxFeePerGas: gwei(21) }, caps),
    ).toEqual({
      maxFeePerGas: gwei(21),
      maxPriorityFeePerGas: gwei(1),
    });
    // A tip above its cap is cut to the cap; a suggested max below base + tip is raised to it.
    expect(
      firstFees({ baseFee: gwei(10), maxPriorityFeePerGas: gwei(5), maxFeePerGas: gwei(12) }, caps),
    ).toEqual({
      maxFeePerGas: gwei(15),
      maxPriorityFeePerGas: gwei(2),
    });
  });

  it('waits (null) while the base fee is above what the caps allow', () => {
    expect(
      firstFees({ baseFee: gwei(99), maxPriorityFeePerGas: gwei(2), maxFeePerGas: gwei(200) }, caps),
    ).toBeNull();
  });
});

describe('replacementFees', () => {
  const old = { maxFeePerGas: gwei(40), maxPriorityFeePerGas: gwei(1) };

  it('raises both fees by 12.5%, or to the current suggestion when that is higher', () => {
    const quiet = { baseFee: gwei(1), maxPriorityFeePerGas: gwei(0.5), maxFeePerGas: gwei(2.5) };
    expect(replacementFees(old, quiet, caps)).toEqual({
      maxFeePerGas: gwei(45),
      maxPriorityFeePerGas: gwei(1.125),
    });
    const busy = { baseFee: gwei(30), maxPriorityFeePerGas: gwei(1.5), maxFeePerGas: gwei(61.5) };
    expect(replacementFees(old, busy, caps)).toEqual({
      maxFeePerGas: gwei(61.5),
      maxPriorityFeePerGas: gwei(1.5),
    });
  });

  it('gives up (null) when the caps leave less than the 10% raise a node accepts', () => {
    const quiet = { baseFee: gwei(1), maxPriorityFeePerGas: gwei(0.5), maxFeePerGas: gwei(2.5) };
    expect(
      replacementFees({ maxFeePerGas: gwei(95), maxPriorityFeePerGas: gwei(1) }, quiet, caps),
    ).toBeNull();
    expect(
      replacementFees({ maxFeePerGas: gwei(40), maxPriorityFeePerGas: gwei(1.9) }, quiet, caps),
    ).toBeNull();
    // Exactly 10% within the caps is still accepted.
    expect(
      replacementFees({ maxFeePerGas: gwei(40), maxPriorityFeePerGas: gwei(1.8) }, quiet, {
        maxFeePerGas: gwei(100),
        maxPriorityFeePerGas: gwei(1.98),
      }),
    ).toEqual({ maxFeePerGas: gwei(45), maxPriorityFeePerGas: gwei(1.98) });
  });
});
