import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatLsn, parseLsn, parseLsnOrZero } from '../../../src/common/lsn.js';

describe('LSN', () => {
  it('parses the two hex halves into one bigint', () => {
    assert.equal(parseLsn('0/3000060'), 0x3000060n);
    assert.equal(parseLsn('16/B374D848'), (0x16n << 32n) | 0xB374D848n);
    assert.equal(parseLsn('ffffffff/ffffffff'), 0xFFFFFFFFFFFFFFFFn);
    assert.equal(parseLsn('0/0'), 0n);
  });

  it('formats like Postgres (upper-case hex, no padding)', () => {
    assert.equal(formatLsn(0x3000060n), '0/3000060');
    assert.equal(formatLsn((0x16n << 32n) | 0xB374D848n), '16/B374D848');
    assert.equal(formatLsn(0n), '0/0');
  });

  it('round-trips', () => {
    for (const text of ['0/0', '0/1', '1/0', 'AB/CDEF0123', 'FFFFFFFF/FFFFFFFF']) assert.equal(formatLsn(parseLsn(text)), text);
  });

  it('rejects malformed input', () => {
    for (const text of ['', '0', '0/', '/0', '0/3000060/1', 'x/1', '123456789/0']) {
      assert.throws(() => parseLsn(text), /invalid LSN/);
    }
    assert.throws(() => formatLsn(-1n));
  });

  it('treats SQL NULL as 0/0', () => {
    assert.equal(parseLsnOrZero(null), 0n);
    assert.equal(parseLsnOrZero(undefined), 0n);
    assert.equal(parseLsnOrZero('0/10'), 16n);
  });
});
