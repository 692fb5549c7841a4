/**
 * `pg_autoctl enable|disable maintenance` (spec 04 §6.2).
 */
import type { Command } from 'commander';

export function registerMaintenanceCommands(enable: Command, disable: Command): void {
  void enable;
  void disable;
}
