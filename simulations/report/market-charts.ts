/**
 * The report's charts of paid delivery and sharing (decision 0811), as the script that draws them: it runs in the
 * page after the market's own charts, with `M` (metrics.json), `figure` and Chart.js in scope (see `html.ts`).
 */
export function marketSharingCharts(): string {
  return `
const paid = M.market && M.market.purchases && M.market.purchases.paidDelivery;
if (paid && paid.byNode.length > 0) {
  const eur = (v) => v == null ? 0 : Number(v) / 100;
  const nodes = paid.byNode;
  new Chart(figure('Delivery payments per node (EUR): ground truth against the clearinghouse', 'Grey: what the workload computed each node is owed for the verified bytes it delivered to licensed fetches (per GB fee + share of the sale, rounded down per receipt); blue: the sum of its delivery statement lines; green: its posted balance. A node without a bar served only what pays nothing (an uncertified listener, or a fee that rounds to 0). Any grey and blue bar that differ fail the check.'), {
    type: 'bar',
    data: { labels: nodes.map(n => n.node + (n.participant && n.participant.startsWith('wallet:') ? ' (wallet)' : '')), datasets: [
      { label: 'ground truth', data: nodes.map(n => eur(n.expected)), backgroundColor: '#9aa5b8' },
      { label: 'delivery statement lines', data: nodes.map(n => eur(n.statement)), backgroundColor: '#3f6fd8' },
      { label: 'posted balance', data: nodes.map(n => n.participant && n.participant.startsWith('delivery:') ? eur(n.ledger) : null), backgroundColor: '#2e7d32' },
    ] },
    options: { indexAxis: 'y', scales: { x: { beginAtZero: true, title: { display: true, text: 'EUR' } }, y: { title: { display: true, text: 'serving node' } } } }
  });
  new Chart(figure('Bytes each node delivered to players', 'Served: every block its segments server wrote in full to a player (prefetches and end-game copies included); licensed: verified bytes of licensed fetches it delivered first; paid: those it is paid for.'), {
    type: 'bar',
    data: { labels: nodes.map(n => n.node), datasets: [
      { label: 'served to players (MB)', data: nodes.map(n => n.servedToPlayersBytes / 1e6), backgroundColor: '#9aa5b8' },
      { label: 'licensed fetches (MB)', data: nodes.map(n => n.licensedBytes / 1e6), backgroundColor: '#ef6c00' },
      { label: 'paid (MB)', data: nodes.map(n => n.paidBytes / 1e6), backgroundColor: '#2e7d32' },
    ] },
    options: { indexAxis: 'y', scales: { x: { beginAtZero: true, title: { display: true, text: 'MB' } }, y: { title: { display: true, text: 'serving node' } } } }
  });
}
`
}
