/** `npm run dashboard`: writes the Grafana dashboard built from the shared metric names. */
import { writeFileSync } from 'node:fs';
import { dashboardJson } from '../grafana/dashboard.js';

const file = new URL('../grafana/dashboards/flash-sale.json', import.meta.url);
writeFileSync(file, dashboardJson());
console.log(`wrote ${file.pathname}`);
