import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseTimeout, primaryCandidates } from '../../../src/cli/commands/perform-monitor-failover.js';
import { monitorFailoverRendering, type MonitorFailoverReport } from '../../../src/cli/render/monitor-failover.js';
import { defaultMonitorConfig } from '../../../src/config/index.js';

describe('perform monitor-failover', () => {
  it('parses --wait: whole seconds above zero, 60 by default', () => {
    assert.equal(parseTimeout(undefined), 60);
    assert.equal(parseTimeout('5'), 5);
    for (const bad of ['0', '-1', '1.5', 'ten', '']) assert.throws(() => parseTimeout(bad), /--wait argument is not a valid number of seconds/);
  });

  it('looks for the primary monitor in ha.peers and in primary_conninfo, each once', () => {
    const config = defaultMonitorConfig({ pgdata: '/tmp/x', hostname: '127.0.0.12' });
    assert.deepEqual(primaryCandidates(config, ''), []);
    assert.deepEqual(primaryCandidates(config, 'application_name=pgautofailover_monitor_2 host=127.0.0.11 port=6000 user=pgautofailover_replicator'),
      ['postgres://autoctl_node@127.0.0.11:6000/pg_auto_failover?sslmode=prefer']);
    const withPeer = { ...config, ha: { ...config.ha, peers: 'postgres://autoctl_node@127.0.0.11:6000/pg_auto_failover?sslmode=require' } };
    assert.deepEqual(primaryCandidates(withPeer, 'host=127.0.0.11 port=6000'), [withPeer.ha.peers]);
    assert.deepEqual(primaryCandidates(withPeer, 'host=127.0.0.13 port=6000'),
      [withPeer.ha.peers, 'postgres://autoctl_node@127.0.0.13:6000/pg_auto_failover?sslmode=prefer']);
    assert.deepEqual(primaryCandidates(config, "host='unterminated"), []);
  });

  it('prints a summary, and the same facts with --json', () => {
    const report: MonitorFailoverReport = {
      mode: 'switchover', memberId: 2, host: '127.0.0.12', port: 6001, oldPrimary: { host: '127.0.0.11', port: 6000 }, oldPrimaryWas: 'down',
      requestId: 1, previousEpoch: 1, epoch: 2, timeline: 2, promoteMs: 310, elapsedMs: 2450,
    };
    assert.equal(monitorFailoverRendering.text(report), [
      'Monitor member 2 (127.0.0.12:6001) is now the primary monitor',
      'Monitor epoch: 1 -> 2 (timeline 2)',
      'Old primary monitor 127.0.0.11:6000: handed over (clean switchover, request 1), now down; it rejoins as a standby',
      'Writable 2.5 s after the command started (promotion 0.3 s)',
      '',
    ].join('\n'));
    assert.match(monitorFailoverRendering.text({ ...report, mode: 'forced', oldPrimaryWas: 'unreachable', requestId: null }),
      /Old primary monitor 127\.0\.0\.11:6000: did not answer: promoted with --force/);
    assert.deepEqual(monitorFailoverRendering.json?.(report), {
      mode: 'switchover', member_id: 2, host: '127.0.0.12', port: 6001, old_primary: { host: '127.0.0.11', port: 6000 }, old_primary_was: 'down',
      request_id: 1, previous_epoch: 1, epoch: 2, timeline: 2, promote_ms: 310, elapsed_ms: 2450,
    });
  });
});
