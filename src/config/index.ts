/** Configuration and files of pg_autoctl: XDG paths, INI config, state, init, status and pid files. */
export {
  PRIVATE_DIR_MODE, SERVICE_NAMES, ensurePaths, fallbackRuntimeBase, isDirectory, pathsFor, xdgBases,
  type AutoctlDirs, type AutoctlPaths, type ServiceName, type XdgBases, type XdgEnv,
} from './paths.js';
export { isCode, syncDirectory, tempPathOf, writeFileAtomic, type AtomicWriteOptions } from '../common/atomic-file.js';
export { readFileIfExists, readTextFile, removeFileIfExists, writeTextFile } from './text-file.js';
export { iniValue, parseIni, renderIni, type IniDocument, type IniSection } from './ini.js';
export {
  CHANGE_POLICIES, SSL_MODES,
  type ChangePolicy, type ConfigChange, type ConfigOf, type ConfigSchema, type FieldSpec, type FieldValue, type KeyPathOf, type SslMode,
} from './config-fields.js';
export {
  CITUS_ROLES, HBA_LEVELS, HOOK_TIMEOUT_DEFAULT, KEEPER_SCHEMA, MONITOR_DISABLED, NODE_KINDS,
  backupDirectoryForNode, defaultBackupDirectory, defaultHttpPort, defaultKeeperConfig, isMonitorDisabled, parseKeeperConfig, planKeeperReload, renderKeeperConfig,
  type HbaLevel, type KeeperConfig, type KeeperConfigKey, type NodeKind,
} from './keeper-config.js';
export {
  MONITOR_DBNAME, MONITOR_SCHEMA, MONITOR_USERNAME,
  defaultMonitorConfig, isPeerList, monitorPeersOf, parseMonitorConfig, planMonitorReload, renderMonitorConfig,
  ETCD_ENDPOINTS_EXPECTED, etcdEndpointsOf, isEtcdEndpointList, isEtcdPrefix,
  type MonitorConfig, type MonitorConfigKey,
} from './monitor-config.js';
export {
  CONFIG_FILE_MODE, CONFIG_ROLES,
  changePolicyOf, configKeys, configToJson, getConfigValue, isKeeperConfig, isMonitorConfig, isReloadable, parseConfig,
  readConfigFile, readKeeperConfigFile, readMonitorConfigFile, reloadableKeys, renderConfig, setConfigValue, writeConfigFile,
  type AnyConfig, type ConfigRole,
} from './config-file.js';
export {
  KEEPER_STATE_FILE_MODE, KEEPER_STATE_VERSION,
  initialKeeperState, parseKeeperState, readKeeperState, readKeeperStateIfExists, renderKeeperState, writeKeeperState,
  type KeeperState,
} from './state-file.js';
export {
  PGDATA_INIT_STATES, PGDATA_INIT_STATE_TEXT,
  parseInitFile, readInitFile, readInitFileIfExists, removeInitFile, renderInitFile, writeInitFile,
  type InitFile, type PgdataInitState,
} from './init-file.js';
export {
  EXPECTED_PG_STATUSES, EXPECTED_PG_STATUS_TEXT,
  isExpectedPgStatus, readExpectedPgStatus, removeExpectedPgStatus, writeExpectedPgStatus,
  type ExpectedPgStatus,
} from './expected-pg-status-file.js';
export {
  PID_FILE_MODE,
  checkPidFile, checkSignalTarget, isProcessAlive, parsePidFile, pidFileNamesPid, readPidFile, readProcessIdentity, removePidFile,
  removePidFileSync, renderPidFile, writePidFile,
  type PidFile, type PidFileService, type PidFileStatus, type ProcessIdentity, type SignalTargetExpectation,
} from './pid-file.js';
export { TOKEN_FILE_MODE, isNodeToken, readNodeTokenIfExists, removeNodeToken, writeNodeToken } from './token-file.js';
export {
  NODES_FILE_MAX_COUNT, NODES_FILE_MODE,
  nodesFileJson, otherNodesOf, parseNodesArray, readNodesFileTextIfExists, writeNodesFile,
  type NodesFileEntry,
} from './nodes-file.js';
