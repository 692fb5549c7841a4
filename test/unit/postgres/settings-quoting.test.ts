/**
 * Issue 8 #8: values written to postgresql.conf files follow PostgreSQL's
 * quoting (quotes doubled, backslashes doubled), control characters are
 * refused, and primary_conninfo values follow libpq's keyword quoting.
 * test/integration/security-files.test.ts reads them back through a real
 * postgres.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AutoctlError } from '../../../src/common/errors.js';
import { parseConnInfo, quoteKeywordValue, replicationConninfo } from '../../../src/postgres/conninfo.js';
import { quoteConfValue, renderStandbySettings } from '../../../src/postgres/settings-render.js';

/** PostgreSQL's GUC lexer for one quoted value (guc-file.l: STRING, then DeescapeQuotedString). */
function readConfString(text: string): string {
  const match = /^'((?:[^'\\\n]|\\.|'')*)'$/.exec(text);
  if (match === null) throw new Error(`not a configuration string: ${text}`);
  const body = match[1] ?? '';
  let out = '';
  for (let i = 0; i < body.length; i += 1) {
    const c = body[i] ?? '';
    if (c === '\\') {
      const n = body[i + 1] ?? '';
      out += ({ b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' } as Record<string, string>)[n] ?? n;
      i += 1;
    } else if (c === "'") {
      out += "'";
      i += 1;
    } else {
      out += c;
    }
  }
  return out;
}

describe('quoteConfValue', () => {
  it('doubles single quotes and backslashes', () => {
    assert.equal(quoteConfValue("it's"), "'it''s'");
    assert.equal(quoteConfValue('pa\\ss'), "'pa\\\\ss'");
    assert.equal(quoteConfValue("\\'"), "'\\\\'''");
  });

  it('round-trips through PostgreSQL\'s lexer', () => {
    for (const value of ["it's", 'pa\\ss', "a\\'b", "''", '\\', 'trailing\\', 'nbsp\u00a0é', 'x\\ny']) {
      assert.equal(readConfString(quoteConfValue(value)), value, value);
    }
  });

  it('refuses newlines and control characters, naming the setting and not the value', () => {
    for (const [value, what] of [['pw\nhost=evil', 'a newline'], ['pw\r', 'a newline'], ['a\u0000b', 'code 0'], ['a\u001bb', 'code 27'], ['a\tb', 'code 9']] as const) {
      assert.throws(() => quoteConfValue(value, 'primary_conninfo'), (error: unknown) => {
        assert.ok(error instanceof AutoctlError);
        assert.equal(error.code, 'BAD_CONFIG');
        assert.match(error.message, /the setting "primary_conninfo"/);
        assert.ok(error.message.includes(what), error.message);
        assert.ok(!error.message.includes('pw'), error.message);
        return true;
      });
    }
  });
});

describe('primary_conninfo with awkward passwords', () => {
  const source = {
    host: 'node1', port: 5432, user: 'pgautofailover_replicator', applicationName: 'pgautofailover_standby_2', sslMode: 'prefer' as const,
  };
  for (const password of ["it's", 'pa\\ss', "sp ace's\\", 'a=b', "'"]) {
    it(`keeps ${JSON.stringify(password)} through libpq and postgresql.conf quoting`, () => {
      const conninfo = replicationConninfo({ ...source, password }, { includePassword: true });
      assert.equal(parseConnInfo(conninfo).password, password);
      const line = renderStandbySettings({ primaryConninfo: conninfo, recoveryTargetTimeline: 'latest' }).split('\n')[1] ?? '';
      const value = readConfString(line.replace(/^primary_conninfo = /, ''));
      assert.equal(value, conninfo);
      assert.equal(parseConnInfo(value).password, password);
    });
  }

  it('quotes keyword values per libpq', () => {
    assert.equal(quoteKeywordValue('plain'), 'plain');
    assert.equal(quoteKeywordValue(''), "''");
    assert.equal(quoteKeywordValue("it's"), "'it\\'s'");
    assert.equal(quoteKeywordValue('pa\\ss'), "'pa\\\\ss'");
    assert.equal(quoteKeywordValue('a b'), "'a b'");
  });

  it('refuses a password with a newline instead of writing a broken file', () => {
    const conninfo = replicationConninfo({ ...source, password: 'pw\nrestore_command = \'evil\'' }, { includePassword: true });
    assert.throws(() => renderStandbySettings({ primaryConninfo: conninfo, recoveryTargetTimeline: 'latest' }), /contains a newline/);
  });
});
