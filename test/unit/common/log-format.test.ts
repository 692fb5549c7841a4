/**
 * Issue 12 #5: JSON logs. `--log-format json`, PG_AUTOCTL_LOG_FORMAT or
 * `pg_autoctl.log_format` turn stderr into one JSON object per line (time,
 * level, pid, the node's formation, group and name once known, msg); the
 * default stays the original's text line; secrets stay masked.
 */
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { AutoctlError } from '../../../src/common/errors.js';
import {
  bindLogIdentity, createLogger, formatJsonLine, formatLogLine, logFormatOf, logLineFor, useConfiguredLogFormat, type LoggerSettings,
} from '../../../src/common/log.js';
import { logFormatFor } from '../../../src/cli/context.js';
import {
  defaultKeeperConfig, defaultMonitorConfig, parseKeeperConfig, parseMonitorConfig, planKeeperReload, renderKeeperConfig, renderMonitorConfig,
} from '../../../src/config/index.js';

const dir = mkdtempSync(join(tmpdir(), 'pgaf-logfmt-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

/** A logger writing to a file instead of stderr, and a way to read its lines. */
function fileLogger(settings: LoggerSettings = {}): { log: ReturnType<typeof createLogger>; lines: () => string[] } {
  const path = join(dir, `log-${files++}`);
  const fd = openSync(path, 'a');
  after(() => closeSync(fd));
  const log = createLogger({ ...settings, fd });
  return { log, lines: () => readFileSync(path, 'utf8').split('\n').filter((l) => l !== '') };
}

const ESC = String.fromCharCode(27);
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe('text format (the default)', () => {
  it('is the original line: HH:MM:SS pid LEVEL message', () => {
    const { log, lines } = fileLogger();
    log.info('pg_autoctl service is running');
    log.child({ service: 'node-active' }).warn('something odd');
    const [info, warn] = lines();
    assert.match(info ?? '', new RegExp(`^\\d\\d:\\d\\d:\\d\\d ${process.pid} INFO  pg_autoctl service is running$`));
    assert.match(warn ?? '', new RegExp(`^\\d\\d:\\d\\d:\\d\\d ${process.pid} WARN  something odd$`));
    assert.equal(logFormatOf(log), 'text');
  });

  it('ignores the node identity', () => {
    const { log, lines } = fileLogger();
    bindLogIdentity(log, { formation: 'default', group: 0, node: 'node_1' });
    log.error('boom');
    assert.match(lines()[0] ?? '', new RegExp(`^\\d\\d:\\d\\d:\\d\\d ${process.pid} ERROR boom$`));
  });

  it('formatLogLine is unchanged', () => {
    const at = new Date(2026, 0, 2, 3, 4, 5).getTime();
    assert.equal(formatLogLine({ time: at, pid: 42, level: 40, msg: 'hello' }), '03:04:05 42 WARN  hello\n');
    assert.equal(formatLogLine({ time: at, pid: 42, level: 60, msg: 'x' }, true), '03:04:05 42 \x1b[35mFATAL\x1b[0m x\n');
  });
});

describe('json format', () => {
  it('writes one object per line: time, level, pid, node fields, service, msg', () => {
    const { log, lines } = fileLogger({ format: 'json', level: 'debug' });
    log.info('before the node is known');
    bindLogIdentity(log, { formation: 'default', group: 0, node: 'node_1' });
    const child = log.child({ service: 'node-active' });
    child.debug('with %s', 'interpolation');
    child.warn({ extra: 7 }, 'with a field');
    const records = lines().map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(records.length, 3);
    const [first, second, third] = records;
    assert.deepEqual(Object.keys(first ?? {}), ['time', 'level', 'pid', 'msg']);
    assert.match(String(first?.time), ISO);
    assert.equal(first?.level, 'info');
    assert.equal(first?.pid, process.pid);
    assert.equal(first?.msg, 'before the node is known');
    assert.deepEqual(Object.keys(second ?? {}), ['time', 'level', 'pid', 'formation', 'group', 'node', 'service', 'msg']);
    assert.deepEqual({ ...second, time: 'T' }, {
      time: 'T', level: 'debug', pid: process.pid, formation: 'default', group: 0, node: 'node_1', service: 'node-active', msg: 'with interpolation',
    });
    assert.equal(third?.level, 'warn');
    assert.equal(third?.extra, 7);
    assert.equal(Object.keys(third ?? {}).at(-1), 'msg');
  });

  it('reads a bound identity function at each line; group -1 and an empty name are left out', () => {
    const { log, lines } = fileLogger({ format: 'json' });
    const node = { name: '', group: -1 };
    bindLogIdentity(log, () => ({ formation: 'default', group: node.group, node: node.name }));
    const child = log.child({ service: 'node-init' });
    child.info('unregistered');
    node.name = 'node_7';
    node.group = 2;
    child.info('registered');
    const [a, b] = lines().map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(a?.formation, 'default');
    assert.ok(!('group' in (a ?? {})) && !('node' in (a ?? {})));
    assert.equal(b?.group, 2);
    assert.equal(b?.node, 'node_7');
  });

  it('masks secrets in the message and in other fields', () => {
    const { log, lines } = fileLogger({ format: 'json' });
    log.info('Connecting to "postgres://autoctl_node:S3cr3t@m:5432/pg_auto_failover"');
    log.info({ conninfo: 'host=h password=S3cr3t' }, 'value %s', 'password=S3cr3t');
    const text = lines().join('\n');
    assert.ok(!text.includes('S3cr3t'), text);
    const [a, b] = lines().map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(a?.msg, 'Connecting to "postgres://autoctl_node:****@m:5432/pg_auto_failover"');
    assert.equal(b?.conninfo, 'host=h password=****');
    assert.equal(b?.msg, 'value password=****');
  });

  it('keeps a multi-line message in one line of JSON', () => {
    const line = formatJsonLine({ time: 0, pid: 1, level: 60, msg: 'first\nsecond' });
    assert.equal(line, '{"time":"1970-01-01T00:00:00.000Z","level":"fatal","pid":1,"msg":"first\\nsecond"}\n');
  });

  it('logLineFor writes runCli errors in the logger format, with the identity', () => {
    const json = createLogger({ format: 'json', fd: openSync(join(dir, 'unused'), 'a') });
    bindLogIdentity(json, { formation: 'default', group: 1, node: 'n' });
    const record = JSON.parse(logLineFor(json, { time: 0, pid: 9, level: 60, msg: 'failed' })) as Record<string, unknown>;
    assert.deepEqual(record, { time: '1970-01-01T00:00:00.000Z', level: 'fatal', pid: 9, formation: 'default', group: 1, node: 'n', msg: 'failed' });
    const at = new Date(2026, 0, 2, 3, 4, 5).getTime();
    assert.equal(logLineFor(undefined, { time: at, pid: 9, level: 30, msg: 'HINT: x' }).replaceAll(`${ESC}[32m`, '').replaceAll(`${ESC}[0m`, ''), '03:04:05 9 INFO  HINT: x\n');
  });
});

describe('choosing the format: option > environment > configuration > text', () => {
  it('the option wins over the environment; an empty environment variable is unset', () => {
    assert.equal(logFormatFor({ logFormat: 'json' }, { PG_AUTOCTL_LOG_FORMAT: 'text' }), 'json');
    assert.equal(logFormatFor({ logFormat: 'text' }, { PG_AUTOCTL_LOG_FORMAT: 'json' }), 'text');
    assert.equal(logFormatFor({}, { PG_AUTOCTL_LOG_FORMAT: 'json' }), 'json');
    assert.equal(logFormatFor({}, { PG_AUTOCTL_LOG_FORMAT: '' }), undefined);
    assert.equal(logFormatFor({}, {}), undefined);
  });

  it('refuses an unknown format', () => {
    assert.throws(() => logFormatFor({ logFormat: 'yaml' }, {}), (e: unknown) => e instanceof AutoctlError && /Unknown log format "yaml" in --log-format/.test(e.message));
    assert.throws(() => logFormatFor({}, { PG_AUTOCTL_LOG_FORMAT: 'XML' }), /PG_AUTOCTL_LOG_FORMAT/);
  });

  it('the configuration applies only when neither option nor environment chose', () => {
    const { log: unchosen, lines: unchosenLines } = fileLogger();
    useConfiguredLogFormat(unchosen, 'json');
    unchosen.child({ service: 's' }).info('now json');
    assert.equal((JSON.parse(unchosenLines()[0] ?? '') as { msg: string }).msg, 'now json');
    const { log: chosen, lines: chosenLines } = fileLogger({ format: 'text' });
    useConfiguredLogFormat(chosen, 'json');
    chosen.info('still text');
    assert.match(chosenLines()[0] ?? '', / INFO {2}still text$/);
  });
});

describe('pg_autoctl.log_format in the configuration files', () => {
  it('is not written when text, so that 2.0 files stay byte for byte', () => {
    const keeper = defaultKeeperConfig({ pgdata: '/srv/n1', hostname: 'n1' });
    assert.equal(keeper.pg_autoctl.log_format, 'text');
    const text = renderKeeperConfig(keeper);
    assert.ok(!text.includes('log_format'), text);
    const monitor = defaultMonitorConfig({ pgdata: '/srv/m', hostname: 'm' });
    assert.ok(!renderMonitorConfig(monitor).includes('log_format'));
  });

  it('is written in the pg_autoctl section when json, and read back', () => {
    const keeper = defaultKeeperConfig({ pgdata: '/srv/n1', hostname: 'n1' });
    const json = { ...keeper, pg_autoctl: { ...keeper.pg_autoctl, log_format: 'json' } };
    const text = renderKeeperConfig(json);
    const section = text.split('\n[')[0] ?? '';
    assert.match(section, /\n\s*log_format = json\n?/);
    const parsed = parseKeeperConfig(text);
    assert.ok(parsed.ok);
    assert.equal(parsed.value.pg_autoctl.log_format, 'json');
    const monitor = defaultMonitorConfig({ pgdata: '/srv/m', hostname: 'm' });
    const mtext = renderMonitorConfig({ ...monitor, pg_autoctl: { ...monitor.pg_autoctl, log_format: 'json' } });
    const mparsed = parseMonitorConfig(mtext);
    assert.ok(mparsed.ok);
    assert.equal(mparsed.value.pg_autoctl.log_format, 'json');
  });

  it('refuses another value, and a running service keeps its format on reload', () => {
    const keeper = defaultKeeperConfig({ pgdata: '/srv/n1', hostname: 'n1' });
    const bad = renderKeeperConfig(keeper).replace('[pg_autoctl]\n', '[pg_autoctl]\nlog_format = yaml\n');
    assert.ok(!parseKeeperConfig(bad).ok);
    const { changes } = planKeeperReload(keeper, { ...keeper, pg_autoctl: { ...keeper.pg_autoctl, log_format: 'json' } });
    const change = changes.find((c) => c.path === 'pg_autoctl.log_format');
    assert.equal(change?.applied, false);
  });
});
