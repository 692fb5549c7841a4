/**
 * `pg_autoctl enable|disable monitor` (spec 04 §6.4, spec 06 §10).
 */
import type { Command } from 'commander';

export function registerMonitorAttachCommands(enable: Command, disable: Command): void {
  void enable;
  void disable;
}
