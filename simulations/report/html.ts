import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { toJsonValue } from '../../protocols/json.ts'
import { marketSharingCharts } from './market-charts.ts'
import { summaryRows } from './summary.ts'
import type { RunMetrics } from './types.ts'

/** Chart.js's UMD build, inlined so that the report opens offline (no CDN, no second file). */
function chartJsSource(): string {
  const require = createRequire(import.meta.url)
  // The package's exports do not name the UMD file; it sits beside the CommonJS entry.
  const path = join(dirname(require.resolve('chart.js')), 'chart.umd.min.js')
  return readFileSync(path, 'utf8')
}

/** Text that is safe inside a <script> element. */
function scriptSafe(text: string): string {
  return text.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--')
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

/**
 * The run as one self-contained HTML page: the summary and the checks as tables, and charts of the latency
 * distributions, the throughput over time, the process's health over time, and — with a market — purchase
 * latency, time to first audio, where the bytes came from, and the ledgers against the workload's ground truth.
 */
export function renderHtmlReport(metrics: RunMetrics): string {
  const rows = summaryRows(metrics)
  const data = scriptSafe(JSON.stringify(toJsonValue(metrics)))
  const title = `Consort simulation — ${metrics.scenario} (seed ${metrics.seed})`
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
  body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 1200px; padding: 0 1rem; color: #1d2330; }
  h1 { font-size: 1.5rem; margin-bottom: .2rem; }
  .verdict { display: inline-block; padding: .15rem .6rem; border-radius: .3rem; font-weight: 600; color: #fff; }
  .pass { background: #2e7d32; } .fail { background: #c62828; }
  table { border-collapse: collapse; margin: 1rem 0; width: 100%; }
  td, th { border-bottom: 1px solid #e3e6ec; padding: .3rem .5rem; text-align: left; vertical-align: top; }
  td:first-child { white-space: nowrap; color: #4a5263; width: 14rem; }
  .grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 1.2rem; }
  figure { margin: 0; border: 1px solid #e3e6ec; border-radius: .4rem; padding: .6rem; }
  figcaption { font-weight: 600; margin-bottom: .3rem; }
  figure p { color: #4a5263; margin: .3rem 0 0; font-size: 12.5px; }
  .muted { color: #6b7385; }
</style>
<script>${scriptSafe(chartJsSource())}</script>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<p><span class="verdict ${metrics.ok ? 'pass' : 'fail'}">${metrics.ok ? 'PASSED' : 'FAILED'}</span>
<span class="muted">${escapeHtml(metrics.description)}</span></p>
<p class="muted">Reproduce (same bytes): <code>${escapeHtml(metrics.reproduce)}</code> — plan sha256 ${metrics.planHash}</p>
<h2>Checks</h2>
<table>${metrics.checks.map((c) => `<tr><td>${c.ok ? '✔' : '✘'} ${escapeHtml(c.name)}</td><td>${escapeHtml(c.detail)}</td></tr>`).join('')}</table>
<h2>Summary</h2>
<table>${rows.map(([k, v]) => `<tr><td>${escapeHtml(k)}</td><td>${escapeHtml(v)}</td></tr>`).join('')}</table>
<h2>Charts</h2>
<div class="grid" id="charts"></div>
<script>
const M = ${data};
const charts = document.getElementById('charts');
const COLORS = { partition: '#c62828', heal: '#2e7d32', kill: '#6a1b9a', restart: '#8e24aa', leave: '#ef6c00', rejoin: '#f9a825', workload: '#607d8b', drain: '#607d8b' };
// Faults and phases as vertical lines on every chart over time (a partition red, a heal green, kills purple…).
const markers = {
  id: 'markers',
  afterDatasetsDraw(chart) {
    if (!chart.options.plugins.markers || !M.events) return;
    const x = chart.scales.x, area = chart.chartArea, ctx = chart.ctx;
    // Churn is many events: draw each, but label only the first of a kind.
    const labelled = new Set();
    for (const e of M.events) {
      const px = x.getPixelForValue(e.t);
      if (px < area.left || px > area.right) continue;
      ctx.save();
      ctx.strokeStyle = COLORS[e.kind] || '#444';
      ctx.setLineDash(e.kind === 'workload' || e.kind === 'drain' ? [2, 3] : [6, 3]);
      ctx.beginPath(); ctx.moveTo(px, area.top); ctx.lineTo(px, area.bottom); ctx.stroke();
      if (!labelled.has(e.kind)) {
        labelled.add(e.kind);
        ctx.fillStyle = COLORS[e.kind] || '#444'; ctx.font = '11px system-ui';
        ctx.fillText(e.kind, px + 3, area.top + 11 + 12 * (labelled.size - 1) % 48);
      }
      ctx.restore();
    }
  }
};
Chart.register(markers);
function figure(caption, note) {
  const f = document.createElement('figure');
  const c = document.createElement('figcaption'); c.textContent = caption; f.appendChild(c);
  const canvas = document.createElement('canvas'); f.appendChild(canvas);
  if (note) { const p = document.createElement('p'); p.textContent = note; f.appendChild(p); }
  charts.appendChild(f);
  return canvas;
}
function distribution(caption, dist, unit, note) {
  if (!dist || dist.count === 0) return;
  new Chart(figure(caption + ' (n=' + dist.count + ', p50 ' + dist.p50 + ' ' + unit + ', p99 ' + dist.p99 + ' ' + unit + ')', note), {
    type: 'bar',
    data: { labels: dist.buckets.map(b => '≤' + b[0]), datasets: [{ label: 'samples', data: dist.buckets.map(b => b[1]), backgroundColor: '#3f6fd8' }] },
    options: { plugins: { legend: { display: false } }, scales: { x: { title: { display: true, text: unit + ' (upper bound of each bucket; buckets 2^¼ apart, empty ones shown)' } }, y: { title: { display: true, text: 'count' } } } }
  });
}
// series: [label, value of a timeline point, colour, axis ('y' left, 'y2' right)]
function overTime(caption, series, note, yTitle, y2Title) {
  const right = series.some(s => s[3] === 'y2');
  const scales = {
    x: { type: 'linear', title: { display: true, text: 'simulated time (s since the workload started; dashed lines: faults and phases)' } },
    y: { beginAtZero: true, title: { display: true, text: yTitle } },
  };
  if (right) scales.y2 = { position: 'right', beginAtZero: true, grid: { drawOnChartArea: false }, title: { display: true, text: y2Title } };
  new Chart(figure(caption, note), {
    type: 'line',
    data: { datasets: series.map(([label, f, color, axis]) => ({ label, data: M.timeline.map(p => ({ x: p.t, y: f(p) })), borderColor: color, backgroundColor: color, pointRadius: 0, tension: 0.2, yAxisID: axis || 'y' })) },
    options: { parsing: false, interaction: { mode: 'nearest', axis: 'x', intersect: false }, plugins: { markers: true }, scales }
  });
}
const c = (p, name) => (p.counters && p.counters[name]) || 0;
const g = (p, name) => (p.gauges && p.gauges[name]) || 0;
distribution('Gossip propagation latency, publish to acceptance', M.gossip.latencyMs, 'ms', 'Every (message, honest node) delivery: from the publish call to the node\\'s validators accepting it.');
if (M.gossip.reach.length > 0) {
  new Chart(figure('Reach of each honest message over time', 'Share of the honest nodes following the topic when it was published (reachable or not) that accepted it.'), {
    type: 'scatter',
    data: { datasets: [{ label: 'message', data: M.gossip.reach.map(([t, r]) => ({ x: t, y: r * 100 })), backgroundColor: '#2e7d32' }] },
    options: { plugins: { legend: { display: false }, markers: true }, scales: { x: { type: 'linear', title: { display: true, text: 'published at (simulated s since the workload started)' } }, y: { min: 0, max: 100, title: { display: true, text: 'reach (% of honest nodes)' } } } }
  });
}
const groups = Object.entries(M.gossip.byGroup || {});
if (groups.length > 0) {
  new Chart(figure('Gossip latency by receiving group', 'p50 and p99 of publish-to-acceptance latency, by the group of the node that received the message.'), {
    type: 'bar',
    data: { labels: groups.map(e => e[0]), datasets: [
      { label: 'p50 (ms)', data: groups.map(e => e[1].p50), backgroundColor: '#3f6fd8' },
      { label: 'p99 (ms)', data: groups.map(e => e[1].p99), backgroundColor: '#f4a19a' },
    ] },
    options: { scales: { x: { title: { display: true, text: 'receiving group' } }, y: { beginAtZero: true, title: { display: true, text: 'latency (ms)' } } } }
  });
}
overTime('Gossip throughput', [
  ['published / s', p => c(p, 'gossip.published'), '#3f6fd8'],
  ['accepted by honest nodes / s', p => c(p, 'gossip.delivered'), '#2e7d32', 'y2'],
  ['published by adversaries / s', p => c(p, 'gossip.publishedByAdversaries'), '#c62828'],
], 'Per simulated second; negative times are start-up and market set-up.', 'messages published per second', 'deliveries per second');
overTime('Network', [
  ['nodes up', p => p.onlineNodes, '#2e7d32'],
  ['open connections', p => g(p, 'connections'), '#3f6fd8', 'y2'],
], 'Nodes up and connections open at the end of each simulated second.', 'nodes up', 'connections');
overTime('Traffic through the links', [
  ['kB delivered / s', p => g(p, 'fabric.kB'), '#ef6c00'],
  ['chunks in flight', p => g(p, 'fabric.inFlight'), '#6a1b9a', 'y2'],
], 'Bytes the link fabric delivered in each simulated second, and chunks on the wire at its end.', 'kB per second', 'chunks in flight');
const market = M.market;
if (market) {
  distribution('Purchase latency (order to licence)', market.purchaseLatencyMs, 'ms', 'From the buy call of the player to a verified licence: offer check, authorisation, receipt, licence, capture.');
  distribution('Time to first audio of licensed plays', market.playFirstAudioMs, 'ms', 'From the play call to the first decrypted audio reaching the (simulated) sound card.');
  distribution('Time to first segment (fetch start to the first segment verified)', market.timeToFirstAudioMs, 'ms', 'What a licensed player decrypts and starts playing first.');
  distribution('Fetch duration per track', market.fetchMs, 'ms');
  overTime('Market over time', [
    ['fetches completed / s', p => c(p, 'market.fetched'), '#2e7d32'],
    ['fetches failed / s', p => c(p, 'market.fetchFailed'), '#c62828'],
    ['purchases / s', p => c(p, 'market.purchases'), '#3f6fd8'],
    ['MB fetched / s', p => c(p, 'market.fetchedBytes') / 1e6, '#ef6c00', 'y2'],
  ], 'Per simulated second.', 'events per second', 'MB per second');
  if (market.bytesBySource) {
    const entries = Object.entries(market.bytesBySource);
    new Chart(figure('Where fetched bytes came from', 'Bytes of verified segments, by the kind of node that served them.'), {
      type: 'bar', data: { labels: entries.map(e => e[0]), datasets: [{ label: 'MB', data: entries.map(e => e[1] / 1e6), backgroundColor: ['#3f6fd8', '#2e7d32', '#ef6c00', '#c62828', '#6a1b9a'] }] },
      options: { indexAxis: 'y', plugins: { legend: { display: false } }, scales: { x: { title: { display: true, text: 'MB' } }, y: { title: { display: true, text: 'served by' } } } }
    });
  }
  if (market.ledger && market.ledger.rows && market.ledger.rows.length > 0) {
    const rows = market.ledger.rows;
    const eur = (v) => Number(v) / 100;
    new Chart(figure('Balances against the ground truth (' + market.ledger.currency + ')', 'Grey: what the workload\\'s own record of purchases and plays says each participant must hold; blue: what the clearinghouse booked. Logarithmic scale: wallets hold far more than anyone earns. Any pair that differs fails the ledger check.'), {
      type: 'bar',
      data: { labels: rows.map(r => r.label || r.account), datasets: [
        { label: 'ground truth', data: rows.map(r => eur(r.expected)), backgroundColor: '#9aa5b8' },
        { label: 'clearinghouse', data: rows.map(r => eur(r.actual)), backgroundColor: '#3f6fd8' },
      ] },
      options: { indexAxis: 'y', scales: { x: { type: 'logarithmic', title: { display: true, text: market.ledger.currency + ' (log scale)' } }, y: { title: { display: true, text: 'participant' } } } }
    });
  }
}
${marketSharingCharts()}
</script>
</body>
</html>
`
}
