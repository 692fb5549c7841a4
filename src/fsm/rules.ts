/**
 * The monitor's rules as data: one row per rule of spec 02 §4 and per
 * operator function effect (spec 02 §5.7-5.11), with the identifier that
 * decide() puts on every assignment it makes. `change` says where the rule
 * differs from pg_auto_failover 2.x and why; the decision code implements
 * exactly these rows and cites their ids.
 */

export interface MonitorRule {
  readonly id: string;
  readonly section: string;
  readonly when: string;
  readonly then: string;
  readonly change?: string;
}

export const MONITOR_RULES = [
  // spec 03 §5.1 step 4: the first goal of a node register_node just inserted
  { id: 'J1', section: '03 §5.1', when: 'A has goal init and reported init (or dropped: registered again) and the group has other nodes', then: 'A := wait_standby (a node has or is being given a writable goal) or report_lsn (a priority-0 node waits in report_lsn); else A waits', change: '2.x decides it inside register_node; here the monitor service decides it in the group transaction, before the requests and the rules below, which see the new goal' },
  // spec 02 §4.1 preamble, for the node A being evaluated
  { id: 'P0', section: '02 §4.1', when: 'A converged in dropped', then: 'delete A\'s row' },
  { id: 'P1', section: '02 §4.1', when: 'A.goal = dropped', then: 'nothing' },
  { id: 'P2', section: '02 §4.1', when: 'A converged in maintenance', then: 'nothing' },
  { id: 'P3', section: '02 §4.1', when: 'A is alone in its group and not converged in single', then: 'A := single (priority > 0) or report_lsn (priority 0)', change: 'single waits until no other node\'s write lease may run; a keeper with no edge to single from its reported state (maintenance, fast_forward, join_secondary...) goes to report_lsn first (2.x assigned an unreachable single); a node without data also waits until the lease holder reported after it joined (failsafe)' },
  { id: 'P3b', section: '02 §4.1', when: 'no node of the group holds data and none has a writable goal (every node with data was removed)', then: 'the first node with priority > 0 := single (a new instance)', change: 'added: 2.x raises "couldn\'t find the primary node" and the new standbys wait for ever; waits for the lease as P3' },
  { id: 'P4', section: '02 §4.1', when: 'A is in a primary role', then: 'apply the primary rules Q*' },
  { id: 'P5a', section: '02 §4.1', when: 'more than 2 nodes, primary P unhealthy, converged in primary, at least one healthy converged secondary with priority > 0', then: 'P := draining, then run the election', change: '2.x also starts from apply_settings or other primary roles; we only fail over from a primary converged in primary, whose synchronous_standby_names is known to be the applied one' },
  { id: 'P5b', section: '02 §4.1', when: 'more than 2 nodes, P unhealthy and converged in prepare_maintenance', then: 'P := maintenance, then run the election' },
  { id: 'P5', section: '02 §4.1', when: 'no primary at all, or an unhealthy P whose goal is no longer writable', then: 'run the election E*; stop if it made progress', change: '2.x raises "couldn\'t find the primary node" when there is no primary and no failover, and only elects with more than 2 nodes; we start an election (fixes the forced removal of a primary, and a demotion left alone when a 3-node group shrinks to 2). 2.x also elects while P still has a writable goal; we never do' },
  // spec 02 §4.2 primary rules
  { id: 'Q1', section: '02 §4.2', when: 'P converged in single and a standby converged in wait_standby or catchingup', then: 'P := wait_primary', change: 'catchingup added: a standby can copy a node that became single while it waited' },
  { id: 'Q2s', section: '02 §4.2', when: 'P converged in primary, wait_primary or apply_settings; standby O assigned secondary, unhealthy, not reporting report_lsn/join_secondary', then: 'O := catchingup' },
  { id: 'Q2a', section: '02 §4.2', when: 'no standby has replication quorum', then: 'P := primary if a standby is converged secondary, else wait_primary' },
  { id: 'Q2b', section: '02 §4.2', when: 'P not converged in wait_primary and no quorum standby converged secondary', then: 'P := wait_primary (number_sync_standbys = 0) or primary' },
  { id: 'Q2c', section: '02 §4.2', when: 'P converged in wait_primary and a quorum standby converged secondary', then: 'P := primary' },
  { id: 'Q2d', section: '02 §4.2', when: 'P converged in apply_settings', then: 'P := wait_primary (number_sync_standbys = 0 and no quorum secondary) or primary' },
  { id: 'Q3', section: '02 §4.2', when: 'P converged in join_primary', then: 'P := primary' },
  // spec 02 §4.3 rules for a non-primary node A
  { id: 'R1', section: '02 §4.3', when: 'A converged in report_lsn; healthy P reporting a writable state with a writable goal', then: 'A := secondary', change: '2.x requires P converged; a primary between wait_primary and primary waits for a standby that may be one of these nodes' },
  { id: 'R2', section: '02 §4.3', when: 'A converged in fast_forward', then: 'A := prepare_promotion', change: 'only once A reports, with Postgres running, a position at least the most advanced report_lsn node\'s (else E1); and back to the election (E1) when another node may hold a newer timeline' },
  { id: 'R3', section: '02 §4.3', when: 'A converged in report_lsn or fast_forward', then: 'run the election E*', change: 'the election never runs while a node has a writable goal' },
  { id: 'R4', section: '02 §4.3', when: 'A converged in wait_standby; P reported since A got that goal; P reports a writable state other than single, with a writable goal other than single, and R5/R6 do not apply', then: 'A := catchingup', change: '2.x requires P converged in wait_primary or join_primary; P must have reported since (failsafe: P knows A)' },
  { id: 'R5', section: '02 §4.3', when: 'A converged in wait_standby with replication quorum; P reported since A got that goal; P converged in primary', then: 'A := catchingup, P := apply_settings', change: 'P must have reported since (failsafe: P knows A)' },
  { id: 'R6', section: '02 §4.3', when: 'A converged in wait_standby without replication quorum; P reported since A got that goal; P converged in primary', then: 'A := catchingup', change: 'P must have reported since (failsafe: P knows A)' },
  { id: 'R7', section: '02 §4.3', when: 'A converged in catchingup, healthy, same timeline as P and within enable_sync_wal_log_threshold; P converged in wait_primary, join_primary or primary', then: 'A := secondary' },
  { id: 'R8', section: '02 §4.3', when: 'two nodes; A converged in secondary, healthy, priority > 0, within promote_wal_log_threshold of P; P converged in primary and unhealthy', then: 'A := prepare_promotion, P := draining', change: '2.x accepts any primary role of P, including wait_primary whose writes were never replicated, and can fire with more than 2 nodes; we require P converged in primary and exactly 2 nodes; and A must be on the newest timeline of the group (timeline gate)' },
  { id: 'R9', section: '02 §4.3', when: 'A converged in wait_maintenance; P converged in wait_primary', then: 'A := maintenance' },
  { id: 'R10', section: '02 §4.3', when: 'A converged in wait_maintenance; P.goal is not wait_primary', then: 'A := maintenance' },
  { id: 'R11', section: '02 §4.3', when: 'A converged in prepare_promotion; P converged in prepare_maintenance', then: 'A := stop_replication', change: 'timeline gate: A goes back to report_lsn (E1) when another node may hold a newer timeline' },
  { id: 'R12', section: '02 §4.3', when: 'A converged in prepare_promotion; P.goal is draining or demote_timeout', then: 'A := stop_replication, P := demote_timeout', change: '2.x also targets an old primary already asked for report_lsn, a goal it cannot reach from there; timeline gate as R11' },
  { id: 'R13', section: '02 §4.3', when: 'A converged in prepare_promotion; no primary, or the old primary is itself a candidate (goal report_lsn or join_secondary)', then: 'A := wait_primary, once no other write lease may run', change: 'timeline gate as R11' },
  { id: 'R14', section: '02 §4.3', when: 'A converged in stop_replication; P converged in prepare_maintenance', then: 'A := wait_primary, P := maintenance, once no other write lease may run' },
  { id: 'R15', section: '02 §4.3', when: 'A converged in stop_replication; P.goal is draining or demote_timeout; P converged in demote_timeout or its write lease has fallen', then: 'A := wait_primary, P := demoted', change: '2.x waits for primary_demote_timeout (30 s) after assigning demote_timeout; we wait for the old primary\'s write lease, which is what fences it' },
  { id: 'R15b', section: '02 §4.3', when: 'A converged in stop_replication; no primary, or the old primary is a candidate', then: 'A := wait_primary, once no other write lease may run', change: 'added: 2.x has no rule for this case and the candidate stays in stop_replication' },
  { id: 'R15c', section: '02 §4.3', when: 'A converged in draining or demote_timeout while another node runs as the primary', then: 'A := demoted', change: 'added: when the new primary was opened without demoting A (R13), 2.x leaves A in draining for ever' },
  { id: 'R16', section: '02 §4.3', when: 'A converged in demoted; healthy P reports a writable state, its goal a different writable state', then: 'A := catchingup', change: '2.x only accepts P moving from wait_primary or join_primary to primary' },
  { id: 'R17', section: '02 §4.3', when: 'A converged in demoted; healthy P converged in a writable state', then: 'A := catchingup' },
  { id: 'R18', section: '02 §4.3', when: 'A converged in join_secondary; P reported wait_primary with a writable goal', then: 'A := secondary, then the primary rules for P' },
  { id: 'R19', section: '02 §4.3', when: 'A converged in join_secondary; P reports another writable state with a writable goal', then: 'A := secondary', change: '2.x requires P converged in primary: a primary on its way from apply_settings to primary, waiting for a synchronous standby, was waited for by its standbys' },
  // spec 02 §4.4 election
  { id: 'E1', section: '02 §4.4 step 1', when: 'the candidate being promoted is unhealthy before it reached prepare_promotion, or finished its fast-forward behind a report_lsn node that reported since', then: 'candidate := report_lsn, then a new election', change: '2.x starts a new election but leaves the old candidate\'s goal, so two candidates can coexist; and waits for ever when an old primary reports more WAL during the fast-forward; also a candidate, before its promotion, when another node may hold a newer timeline than its own (timeline gate)' },
  { id: 'E2', section: '02 §4.4 step 2', when: 'a standby (goal secondary, catchingup or join_secondary) whose keeper can restart without upstream from its reported state, or an old primary converged in draining, demote_timeout or demoted', then: 'node := report_lsn (it is counted as missing until it reports)', change: '2.x only asks reported secondary/catchingup nodes and old primaries in draining/demoted; nodes of an earlier election still going to secondary or join_secondary, and an old primary left in demote_timeout by an abandoned promotion, waited for ever' },
  { id: 'E3', section: '02 §4.4 step 3', when: 'a node is missing, no candidate reported, or fewer than number_sync_standbys + 1 quorum candidates', then: 'no selection', change: 'a quorum standby outside the election (maintenance, wait_maintenance, joining) counts as missing until it reports its position after the old primary\'s write lease fell: it may hold acknowledged writes; the old primary itself sent to maintenance with a failover is not waited for, as a dead old primary. The quorum gate asks for number_sync_standbys + 1 quorum candidates or, when fewer quorum nodes hold data, all of them (2.x waits forever then)' },
  { id: 'E5', section: '02 §4.4 step 5', when: 'gates passed; the candidates with priority > 0 walked by priority then position; the most advanced position held by a healthy candidate', then: 'selected := prepare_promotion (most advanced) or fast_forward', change: 'the most advanced position must be held by a healthy report_lsn candidate, the only possible WAL source for fast_forward; timeline gate: no selection while a node of the group may hold a newer timeline than the most advanced position (2.x then promotes a second history under an existing timeline number, and later elections compare diverged positions)' },
  { id: 'E5p', section: '02 §4.4 step 5', when: 'a candidate is selected, or none is eligible while priorities are shifted', then: 'priorities shifted by 101 around the election are restored', change: '2.x only restores the candidates\', and only after a selection: an old primary left with a negative priority could never be elected again' },
  { id: 'E6', section: '02 §4.4 step 6', when: 'A converged in report_lsn and the candidate no longer follows the old primary', then: 'A := join_secondary' },
  // operator requests, spec 02 §5.7-5.11
  { id: 'F1', section: '02 §5.7', when: 'failover or switchover with 2 nodes, primary converged in primary, standby converged in secondary with priority > 0', then: 'primary := draining, standby := prepare_promotion', change: 'a standby with priority 0 is refused; a standby on an older timeline than another node may hold is refused (timeline gate)' },
  { id: 'F2', section: '02 §5.7', when: 'failover or switchover with more than 2 nodes, primary converged in primary, a healthy secondary with priority > 0', then: 'primary priority -= 101, primary := draining', change: 'refused when no standby could win the election' },
  { id: 'F3', section: '02 §5.8', when: 'promotion of a secondary or report_lsn node with priority > 0', then: 'target priority += 101, then as F1/F2; during an election only the priority change', change: '2.x refuses a report_lsn target during an election; a priority 0 target is refused' },
  { id: 'M1', section: '02 §5.9', when: 'maintenance on a primary converged in primary, 2 nodes', then: 'primary := prepare_maintenance, standby := prepare_promotion', change: 'refused when the standby is on an older timeline than another node may hold (timeline gate)' },
  { id: 'M2', section: '02 §5.9', when: 'maintenance on a primary converged in primary, more than 2 nodes', then: 'primary := prepare_maintenance' },
  { id: 'M3', section: '02 §5.9', when: 'maintenance on the only healthy quorum secondary, number_sync_standbys = 0', then: 'primary := wait_primary, standby := wait_maintenance' },
  { id: 'M4', section: '02 §5.9', when: 'maintenance on another standby', then: 'standby := maintenance' },
  { id: 'M5', section: '02 §5.9', when: 'stop maintenance, a primary exists and no failover is in progress', then: 'node := catchingup' },
  { id: 'M6', section: '02 §5.9', when: 'stop maintenance during a failover, without a primary, or alone in the group', then: 'node := report_lsn', change: '2.x errors with 2 nodes and no primary, assigns single to a lone node, and refuses to stop a 2-node prepare_maintenance (stuck when the standby cannot be promoted); we let the election (or P3) decide' },
  { id: 'D0', section: '02 §5.10', when: 'forced removal, or the node converged in dropped', then: 'delete the row now; for a standby removed by force, the primary := apply_settings', change: '2.x changes no goal on a forced removal: the primary kept counting the removed standby\'s acknowledgements' },
  { id: 'D1', section: '02 §5.10', when: 'removal of the primary (converged in primary, or any state when no other node holds data)', then: 'standbys (goal secondary or catchingup) and old primaries converged in demoted := report_lsn, node := dropped', change: 'refused while the primary is in another state: it may hold the only copy of writes. 2.x asks every node not in maintenance, including new nodes without data and old primaries still demoting, which have no way to report_lsn from there; the election picks those up when they can' },
  { id: 'D2', section: '02 §5.10', when: 'removal of a standby', then: 'node := dropped; the primary := apply_settings unless its own rules changed its goal', change: 'refused during a failover when the node may hold data' },
  { id: 'N1', section: '01 §6.1', when: 'a non-forced removal leaves fewer quorum standbys than number_sync_standbys + 1', then: 'number_sync_standbys decreased' },
  { id: 'S1', section: '02 §5.11', when: 'candidate priority, replication quorum or number_sync_standbys changed', then: 'the primary (goal primary or wait_primary) := apply_settings' },
] as const satisfies readonly MonitorRule[];

export type MonitorRuleId = (typeof MONITOR_RULES)[number]['id'];
