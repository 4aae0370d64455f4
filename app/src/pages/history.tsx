// A numeric datastream's history as a chart (uPlot): 1 h, 24 h, 7 d, 30 d
// or a custom range, raw values for short ranges and minute or hour
// rollups (average, with a min–max band) for longer ones; drag across the
// chart to zoom, double-click to zoom out; the shown points as CSV.
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { api, type Aggregation, type Datastream, type History } from '../api';
import { Problem } from '../components';

const HOUR = 3_600_000;
const RANGES: [string, number][] = [['1 h', HOUR], ['24 h', 24 * HOUR], ['7 d', 7 * 24 * HOUR], ['30 d', 30 * 24 * HOUR]];

/** Raw up to 3 hours, minutes up to 3 days, hours beyond. */
export function aggregationFor(span: number): Aggregation {
  if (span <= 3 * HOUR) return 'raw';
  if (span <= 72 * HOUR) return 'minute';
  return 'hour';
}

type Columns = [number[], (number | null)[], (number | null)[], (number | null)[]];

function columns(history: History): Columns {
  const x: number[] = [];
  const avg: (number | null)[] = [];
  const min: (number | null)[] = [];
  const max: (number | null)[] = [];
  for (const p of history.points) {
    x.push(p.at / 1000);
    if ('avg' in p) {
      avg.push(p.avg);
      min.push(p.min);
      max.push(p.max);
    } else {
      const n = Number(p.value);
      avg.push(Number.isFinite(n) ? n : null);
      min.push(null);
      max.push(null);
    }
  }
  return [x, avg, min, max];
}

function csv(ds: Datastream, history: History): string {
  const rows = ['time,' + (history.points.some((p) => 'avg' in p) ? 'count,avg,min,max' : 'value')];
  for (const p of history.points) {
    const at = new Date(p.at).toISOString();
    rows.push('avg' in p ? `${at},${p.count},${p.avg},${p.min},${p.max}` : `${at},${JSON.stringify(p.value)}`);
  }
  return rows.join('\n') + '\n';
}

function toLocalInput(ms: number): string {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16);
}

export function HistoryChart({ device, ds }: { device: string; ds: Datastream }) {
  const [span, setSpan] = useState<number | 'custom'>(24 * HOUR);
  const [custom, setCustom] = useState<[number, number]>(() => [Date.now() - 24 * HOUR, Date.now()]);
  const [history, setHistory] = useState<History | null>(null);
  const [problem, setProblem] = useState('');
  const chart = useRef<HTMLDivElement>(null);

  const [from, to] = span === 'custom' ? custom : [Date.now() - span, Date.now()];
  const aggregation = aggregationFor(to - from);

  useEffect(() => {
    setProblem('');
    api.history(device, ds.pin, Math.round(from), Math.round(to), aggregation).then(setHistory, (e: Error) => setProblem(e.message));
  }, [device, ds.pin, span, custom[0], custom[1]]);

  useEffect(() => {
    const el = chart.current;
    if (!el || !history) return;
    const [x, avg, min, max] = columns(history);
    const rollup = history.points.some((p) => 'avg' in p);
    const line = { label: rollup ? 'average' : ds.name, stroke: '#b4532a', width: 2 };
    // Raw values are one line; rollups add their min and max as a band.
    const plot = new uPlot(
      {
        width: Math.max(240, el.clientWidth),
        height: 220,
        series: rollup
          ? [{}, line, { label: 'min', stroke: '#c98a6e' }, { label: 'max', stroke: '#c98a6e' }]
          : [{}, line],
        bands: rollup ? [{ series: [3, 2], fill: 'rgba(180,83,42,0.15)' }] : [],
        axes: [{}, { label: ds.unit ?? undefined }],
        cursor: { drag: { x: true, y: false } },
      },
      rollup ? [x, avg, min, max] : [x, avg],
      el,
    );
    // The range asked for, not just the span of the points in it.
    plot.setScale('x', { min: history.from / 1000, max: history.to / 1000 });
    // Follows its box (a phone turned, a window resized).
    const observer = new ResizeObserver(() => plot.setSize({ width: Math.max(240, el.clientWidth), height: 220 }));
    observer.observe(el);
    return () => {
      observer.disconnect();
      plot.destroy();
    };
  }, [history]);

  const download = () => {
    if (!history) return;
    const url = URL.createObjectURL(new Blob([csv(ds, history)], { type: 'text/csv' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = `${ds.name}-${new Date(from).toISOString().slice(0, 10)}.csv`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  };

  return (
    <section class="history" aria-label={`${ds.name} history`}>
      <div class="ranges" role="group" aria-label="Range">
        {RANGES.map(([label, ms]) => (
          <button type="button" class={span === ms ? 'chosen' : ''} aria-pressed={span === ms} onClick={() => setSpan(ms)}>{label}</button>
        ))}
        <button type="button" class={span === 'custom' ? 'chosen' : ''} aria-pressed={span === 'custom'} onClick={() => setSpan('custom')}>Custom</button>
        <button type="button" class="secondary" onClick={download} disabled={!history?.points.length}>CSV</button>
      </div>
      {span === 'custom' && (
        <div class="custom-range">
          <label>From <input type="datetime-local" value={toLocalInput(custom[0])}
            onChange={(e) => setCustom([new Date((e.target as HTMLInputElement).value).getTime(), custom[1]])} /></label>
          <label>To <input type="datetime-local" value={toLocalInput(custom[1])}
            onChange={(e) => setCustom([custom[0], new Date((e.target as HTMLInputElement).value).getTime()])} /></label>
        </div>
      )}
      <Problem text={problem} />
      <p class="when">{history ? counted(history.points.length, aggregation) : 'Loading…'}</p>
      <div ref={chart} class="chart" role="img" aria-label={`Chart of ${ds.name}`} />
    </section>
  );
}

/** "1 value", "12 values", "1 minute average", "3 hour averages". */
function counted(n: number, aggregation: Aggregation): string {
  const what = aggregation === 'raw' ? 'value' : `${aggregation} average`;
  return `${n} ${what}${n === 1 ? '' : 's'}`;
}
