// Imported first by main.ts: zod decides at schema creation whether to compile parsers with
// new Function, probing for eval, which the webview's CSP forbids (and reports as a violation).

import { z } from 'zod';

z.config({ jitless: true });
