/** TLS families: how long each certificate the config names has left (the files are read at scrape time, so a rotation shows at once). */
import type { Metric } from 'prom-client';
import type { Config } from '../../config/types.js';
import { certificateEnd } from '../../config/files.js';
import { certificateFiles } from '../../config/warnings.js';
import { family, type Sample } from '../../observability/metrics.js';

export function tlsFamilies(config: () => Config): Metric[] {
  return [
    family(
      'memshift_tls_cert_expiry_seconds',
      'Seconds until the first certificate of each file the config names ends (negative: ended); use: what it is for. memshift check and the log warn within 14 days.',
      'gauge',
      () =>
        certificateFiles(config()).flatMap(({ file, use }): Sample[] => {
          const end = certificateEnd(file);
          return end === null ? [] : [{ labels: { file, use }, value: Math.round((end - Date.now()) / 1000) }];
        }),
      'first',
    ),
  ];
}
