#!/usr/bin/env node
// Copies non-TypeScript assets (the monitor's SQL migrations) next to the
// compiled code, so dist/ runs on its own.
import { cpSync, existsSync } from 'node:fs';

if (existsSync('src/monitor/sql')) cpSync('src/monitor/sql', 'dist/monitor/sql', { recursive: true });
