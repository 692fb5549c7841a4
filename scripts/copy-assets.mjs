#!/usr/bin/env node
// Copies non-TypeScript assets (the monitor's SQL migrations, the lease
// guard script) next to the compiled code, so dist/ runs on its own.
import { cpSync, existsSync } from 'node:fs';

if (existsSync('src/monitor/sql')) cpSync('src/monitor/sql', 'dist/monitor/sql', { recursive: true });
if (existsSync('src/keeper/lease-guard.pl')) cpSync('src/keeper/lease-guard.pl', 'dist/keeper/lease-guard.pl');
