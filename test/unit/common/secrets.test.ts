/**
 * Issue 8 #5: secrets never reach a log line or an error message. One
 * helper masks passwords in URIs, conninfo strings and secret config keys;
 * the logger applies it to every line, the CLI to every error.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { AutoctlError } from '../../../src/common/errors.js';
import { createLogger } from '../../../src/common/log.js';
import { MASK, maskConfigValue, maskSecrets } from '../../../src/common/secrets.js';
import { defaultKeeperConfig, planKeeperReload } from '../../../src/config/index.js';
import { parseConnInfo, scrubPasswords } from '../../../src/postgres/conninfo.js';

const dir = mkdtempSync(join(tmpdir(), 'pgaf-secrets-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const SECRET = 'S3cr3t-pw';

describe('maskSecrets', () => {
  const cases: Array<[string, string]> = [
    [`postgres://autoctl_node:${SECRET}@monitor:5432/pg_auto_failover`, `postgres://autoctl_node:${MASK}@monitor:5432/pg_auto_failover`],
    [`postgresql://u:${SECRET}@h1:1,h2:2/db?sslmode=require`, `postgresql://u:${MASK}@h1:1,h2:2/db?sslmode=require`],
    // Unencoded '/', '@' or '?' in the password: everything up to the last '@' goes.
    [`"postgres://u:pa/ss@w?rd@h:5432/db"`, `"postgres://u:${MASK}@h:5432/db"`],
    [`postgres://u@h/db?password=${SECRET}&sslmode=require`, `postgres://u@h/db?password=${MASK}&sslmode=require`],
    [`host=h password=${SECRET} user=u`, `host=h password=${MASK} user=u`],
    [`host=h password='it\\'s a ${SECRET}' user=u`, `host=h password=${MASK} user=u`],
    [`host=h password = ${SECRET}`, `host=h password = ${MASK}`],
    [`host=h PASSWORD=${SECRET}&x`, `host=h PASSWORD=${MASK}`],
    [`PGPASSWORD=${SECRET} pg_basebackup`, `PGPASSWORD=${MASK} pg_basebackup`],
    [`sslpassword=${SECRET}`, `sslpassword=${MASK}`],
  ];
  for (const [input, expected] of cases) {
    it(`masks ${input.slice(0, 40)}`, () => {
      assert.equal(maskSecrets(input), expected);
      assert.equal(maskSecrets(expected), expected, 'masking is idempotent');
    });
  }

  it('leaves text without a password alone', () => {
    for (const text of ['postgres://autoctl_node@monitor:5432/pg_auto_failover?sslmode=prefer', 'host=h user=u dbname=d',
      'replication.password is unset', 'Failed to connect to "postgres://u@h:1/db"']) {
      assert.equal(maskSecrets(text), text);
    }
  });

  it('is what scrubPasswords does', () => {
    assert.equal(scrubPasswords(`a postgres://u:${SECRET}@h/db b password=${SECRET}`), `a postgres://u:${MASK}@h/db b password=${MASK}`);
  });
});

describe('maskConfigValue', () => {
  it('masks secret keys whole and URIs in other keys', () => {
    assert.equal(maskConfigValue('replication.password', SECRET), MASK);
    assert.equal(maskConfigValue('replication.password', ''), '', 'an unset password stays visibly unset');
    assert.equal(maskConfigValue('pg_autoctl.monitor', `postgres://autoctl_node:${SECRET}@m/pg_auto_failover`),
      `postgres://autoctl_node:${MASK}@m/pg_auto_failover`);
    assert.equal(maskConfigValue('postgresql.port', 5432), '5432');
  });

  it('gives the keeper reload a masked line for a new replication password', () => {
    const running = defaultKeeperConfig({ pgdata: '/srv/n1', hostname: 'n1' });
    const reread = { ...running, replication: { ...running.replication, password: SECRET } };
    const { changes } = planKeeperReload(running, reread);
    const change = changes.find((c) => c.path === 'replication.password');
    assert.ok(change?.applied);
    const line = `${change.path} is now "${maskConfigValue(change.path, change.after)}"; used to be "${maskConfigValue(change.path, change.before)}"`;
    assert.equal(line, `replication.password is now "${MASK}"; used to be ""`);
  });
});

describe('logs and errors', () => {
  it('the logger masks every line it writes, JSON file included', () => {
    const jsonFile = join(dir, 'log.json');
    const log = createLogger({ jsonFile, level: 'info' });
    log.info(`Connecting to "postgres://autoctl_node:${SECRET}@m:5432/pg_auto_failover"`);
    log.child({ service: 'node-active' }).warn(`primary_conninfo: host=h password='${SECRET}'`);
    log.info('value %s', `password=${SECRET}`);
    const text = readFileSync(jsonFile, 'utf8');
    assert.ok(!text.includes(SECRET), text);
    assert.equal((text.match(/\*\*\*\*/g) ?? []).length, 3);
  });

  it('a malformed connection string is reported without its password', () => {
    assert.throws(() => parseConnInfo(`postgres://u:${SECRET}@h:notaport/db`), (error: unknown) => {
      assert.ok(error instanceof AutoctlError);
      assert.ok(!error.message.includes(SECRET), error.message);
      return true;
    });
  });
});
