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
    options: { indexAxis: 'y', plugins: { markers: false }, scales: { x: { beginAtZero: true, title: { display: true, text: 'EUR' } }, y: { title: { display: true, text: 'serving node' } } } }
  });
  new Chart(figure('Bytes each node delivered to players', 'Served: every block its segments server wrote in full to a player (prefetches and end-game copies included); licensed: verified bytes of licensed fetches it delivered first; paid: those it is paid for.'), {
    type: 'bar',
    data: { labels: nodes.map(n => n.node), datasets: [
      { label: 'served to players (MB)', data: nodes.map(n => n.servedToPlayersBytes / 1e6), backgroundColor: '#9aa5b8' },
      { label: 'licensed fetches (MB)', data: nodes.map(n => n.licensedBytes / 1e6), backgroundColor: '#ef6c00' },
      { label: 'paid (MB)', data: nodes.map(n => n.paidBytes / 1e6), backgroundColor: '#2e7d32' },
    ] },
    options: { indexAxis: 'y', plugins: { markers: false }, scales: { x: { beginAtZero: true, title: { display: true, text: 'MB' } }, y: { title: { display: true, text: 'serving node' } } } }
  });
}
const sharing = M.market && M.market.purchases && M.market.purchases.sharing;
if (sharing) {
  const eur = (v) => v == null ? 0 : Number(v) / 100;
  const p = sharing.purchases;
  const hops = Object.keys(p.byHop).sort((a, b) => Number(a) - Number(b));
  new Chart(figure('Purchases through referrals: ' + (p.shareThroughReferrals * 100).toFixed(1) + '% of ' + p.total + ' (' + (p.shareCredited * 100).toFixed(1) + '% credited)', 'Hop 0: purchases the plan made; hop n: purchases through a share of a hop n − 1 purchase (a share travels along the share graph of ' + sharing.graph.players + ' players, ' + sharing.graph.recipientsPerPlayer + ' recipients each). Second purchases through a share the buyer already used count where they happened and credit nothing.'), {
    type: 'bar',
    data: { labels: hops.map(h => h === '0' ? 'planned (hop 0)' : 'through a share, hop ' + h), datasets: [
      { label: 'purchases', data: hops.map(h => p.byHop[h]), backgroundColor: hops.map(h => h === '0' ? '#9aa5b8' : '#2e7d32') },
    ] },
    options: { plugins: { legend: { display: false }, markers: false }, scales: { x: { title: { display: true, text: 'how the purchase came about' } }, y: { beginAtZero: true, title: { display: true, text: 'purchases' } } } }
  });
  overTime('Purchases over time, and those through a share', [
    ['purchases / s', q => c(q, 'market.purchases'), '#3f6fd8'],
    ['through a share / s', q => c(q, 'market.purchasesViaShare'), '#2e7d32'],
    ['shares created / s', q => c(q, 'market.sharesCreated'), '#ef6c00', 'y2'],
  ], 'Per simulated second; a purchase through a share follows its share by the delay the scenario sets.', 'purchases per second', 'shares per second');
  const referrers = sharing.credits.byReferrer;
  if (referrers.length > 0) {
    new Chart(figure('Referral credits per referrer (EUR): ground truth against the clearinghouse', 'Grey: what decision 0512 gives each sharing listener for the purchases made through its shares (bps of the price, capped at the share of the payer; a share used again by the same buyer credits nothing); blue: the sum of its referral statement lines. Any pair that differs fails the check.'), {
      type: 'bar',
      data: { labels: referrers.map(r => r.node + ' (' + r.purchasesThrough + ' through ' + r.sharesSent + ' sent)'), datasets: [
        { label: 'ground truth', data: referrers.map(r => eur(r.expected)), backgroundColor: '#9aa5b8' },
        { label: 'referral statement lines', data: referrers.map(r => eur(r.statement)), backgroundColor: '#3f6fd8' },
      ] },
      options: { indexAxis: 'y', plugins: { markers: false }, scales: { x: { beginAtZero: true, title: { display: true, text: 'EUR' } }, y: { title: { display: true, text: 'referrer (purchases through its shares / shares it sent)' } } } }
    });
  }
}
`
}
