/**
 * Renders operations as an SVG timeline a person can read: one row per process, one box per operation
 * from its call to its return (dashed to the right edge when the outcome is unknown), labelled with the
 * request and the response, the operation where linearization got stuck in red. The x axis is the rank
 * of each distinct timestamp, not linear time, so microsecond overlaps stay as visible as long waits.
 */
import { describeRequest, describeResponse, type Operation } from './history.js';

/** Options of {@link renderTimeline}. */
export interface TimelineOptions {
  /** Operation id to highlight (the stuck one). */
  highlight?: number;
  /** Operation ids drawn grey: shown for context, not part of the failing set. */
  context?: ReadonlySet<number>;
  title?: string;
  /** A second line under the title (e.g. the store the operations start from). */
  subtitle?: string;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * Returns a standalone SVG document.
 *
 * @example
 * writeFileSync('violation.svg', renderTimeline(subHistory, { highlight: stuckId }));
 */
export function renderTimeline(ops: readonly Operation[], opts: TimelineOptions = {}): string {
  const times = [...new Set(ops.flatMap((o) => [o.call, o.ret]).filter(Number.isFinite))].sort(
    (a, b) => a - b,
  );
  const rank = new Map(times.map((t, i) => [t, i]));
  const processes = [...new Set(ops.map((o) => o.process))].sort((a, b) => a - b);
  const row = new Map(processes.map((p, i) => [p, i]));
  const slot = 150;
  const left = 90;
  const rowH = 56;
  const top = opts.subtitle ? 50 : 40;
  const width = left + (times.length + 1) * slot + 40;
  const height = top + processes.length * rowH + 30;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="monospace" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="20" font-size="14">${esc(opts.title ?? 'history')}</text>`,
  );
  if (opts.subtitle) parts.push(`<text x="10" y="38" fill="#333">${esc(opts.subtitle)}</text>`);
  for (const p of processes) {
    const y = top + row.get(p)! * rowH;
    parts.push(
      `<text x="10" y="${y + 28}">process ${p}</text>`,
      `<line x1="${left}" y1="${y + rowH - 4}" x2="${width - 20}" y2="${y + rowH - 4}" stroke="#ddd"/>`,
    );
  }
  for (const op of ops) {
    const y = top + row.get(op.process)! * rowH + 6;
    const x1 = left + rank.get(op.call)! * slot;
    const x2 = Number.isFinite(op.ret) ? left + rank.get(op.ret)! * slot + slot - 10 : width - 30;
    const stuck = op.id === opts.highlight;
    const fill = stuck
      ? '#f8c0c0'
      : opts.context?.has(op.id)
        ? '#e4e4e4'
        : op.outcome === 'unknown'
          ? '#f4f4f4'
          : '#d8e8f8';
    const dash = op.outcome === 'unknown' ? ' stroke-dasharray="4 3"' : '';
    const req = describeRequest(op.request);
    const res = op.outcome === 'unknown' ? 'unknown outcome' : describeResponse(op.response);
    parts.push(
      `<g><title>${esc(`#${op.id} ${req} -> ${res}`)}</title>`,
      `<rect x="${x1}" y="${y}" width="${Math.max(20, x2 - x1)}" height="${rowH - 16}" rx="4" fill="${fill}" stroke="${stuck ? '#c00' : '#468'}"${dash}/>`,
      `<text x="${x1 + 4}" y="${y + 15}">${esc(`#${op.id} ${req}`.slice(0, Math.max(8, Math.floor((x2 - x1) / 6.6))))}</text>`,
      `<text x="${x1 + 4}" y="${y + 31}" fill="#333">${esc(`→ ${res}`.slice(0, Math.max(8, Math.floor((x2 - x1) / 6.6))))}</text>`,
      '</g>',
    );
  }
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

/**
 * The same operations as text lines (for terminals and verdict files).
 *
 * @example
 * console.log(describeOperations(report.violation!.subHistory).join('\n'));
 */
export function describeOperations(ops: readonly Operation[]): string[] {
  return [...ops]
    .sort((a, b) => a.call - b.call)
    .map(
      (o) =>
        `#${o.id} p${o.process} [${o.call}, ${Number.isFinite(o.ret) ? o.ret : '∞'}] ${describeRequest(o.request)} -> ${
          o.outcome === 'unknown' ? 'unknown' : describeResponse(o.response)
        }`,
    );
}
