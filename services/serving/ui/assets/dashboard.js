/*
 * Tributary dashboard charts: reads the page's data (script#tributary-data) and draws every
 * div.chart with uPlot (served by the product, or inlined in a report). No network requests.
 */
(() => {
  var el = document.getElementById('tributary-data');
  if (!el || typeof uPlot === 'undefined') return;
  var data = JSON.parse(el.textContent);
  var RED = '#c62828',
    BLUE = '#1f5fbf',
    GREY = '#7a8496',
    VIOLET = '#7b1fa2',
    ORANGE = '#ef6c00';

  function width(node) {
    return Math.max(320, Math.min(1000, (node.parentNode.clientWidth || 900) - 4));
  }
  function fmt(x) {
    return x === null || x === undefined
      ? '–'
      : Math.abs(x) < 1e-3 && x !== 0
        ? x.toExponential(2)
        : String(+x.toFixed(4));
  }

  /** Vertical lines at the given x values (retraining requests). */
  function markers(xs) {
    return (u) => {
      var ctx = u.ctx;
      ctx.save();
      ctx.strokeStyle = VIOLET;
      ctx.lineWidth = 2 * devicePixelRatio;
      xs.forEach((x) => {
        var px = u.valToPos(x, 'x', true);
        if (px < u.bbox.left || px > u.bbox.left + u.bbox.width) return;
        ctx.beginPath();
        ctx.moveTo(px, u.bbox.top);
        ctx.lineTo(px, u.bbox.top + u.bbox.height);
        ctx.stroke();
      });
      ctx.restore();
    };
  }

  function openOnClick(u, model) {
    if (!data.windowLinks) return;
    u.over.addEventListener('click', () => {
      var i = u.cursor.idx;
      if (i === null || i === undefined) return;
      var w = model.windows[i];
      var href = w && data.windowLinks[w.id];
      if (href) location.href = href;
    });
  }

  function timeChart(node, model, title, ys, thresholds, drifted) {
    var xs = model.windows.map((w) => w.end / 1000);
    var marked = ys.map((y, i) => (drifted[i] ? y : null));
    var retrains = model.retrains.filter((r) => r.windowEnd !== null).map((r) => r.windowEnd / 1000);
    var u = new uPlot(
      {
        width: width(node),
        height: 180,
        scales: { x: { time: true } },
        series: [
          {
            label: 'window end (UTC)',
            value: (_u, v) => (v === null ? '–' : new Date(v * 1000).toISOString().slice(0, 19) + 'Z'),
          },
          {
            label: title,
            stroke: BLUE,
            width: 1.5,
            points: { show: xs.length <= 200 },
            value: (_u, v) => fmt(v),
          },
          {
            label: 'threshold',
            stroke: GREY,
            dash: [6, 4],
            width: 1,
            points: { show: false },
            value: (_u, v) => fmt(v),
          },
          {
            label: 'drifted',
            stroke: RED,
            fill: RED,
            width: 0,
            paths: () => null,
            points: { show: true, size: 8, stroke: RED, fill: RED },
            value: (_u, v) => (v === null ? 'no' : 'yes'),
          },
        ],
        axes: [{}, { size: 60, values: (_u, vs) => vs.map(fmt) }],
        hooks: { draw: [markers(retrains)] },
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), 'Etc/UTC'),
      },
      [xs, ys, thresholds, marked],
      node,
    );
    openOnClick(u, model);
    return u;
  }

  function drawModel(model) {
    document.querySelectorAll('[data-chart="share"]').forEach((node) => {
      timeChart(
        node,
        model,
        'drift share',
        model.windows.map((w) => w.share),
        model.windows.map((w) => w.threshold),
        model.windows.map((w) => w.drifted),
      );
    });
    document.querySelectorAll('[data-chart="score"]').forEach((node) => {
      var c = model.columns[Number(node.getAttribute('data-column'))];
      if (c) timeChart(node, model, c.name + ' score', c.score, c.threshold, c.drifted);
    });
  }

  function detailOf(id, name) {
    var w = data.windows.find((x) => x.window.id === id);
    return w?.detail?.columns.find((c) => c.name === name);
  }

  function histogram(node, d) {
    var edges = d.edges,
      k = d.reference.length;
    var density = (counts, n) => {
      var ys = counts.map((c, j) => {
        var w = edges[j + 1] - edges[j];
        var share = n > 0 ? c / n : 0;
        return w > 0 ? share / w : share;
      });
      ys.push(ys[k - 1]);
      return ys;
    };
    var windowTotal = d.window.reduce((a, b) => a + b, 0) + d.aboveReference;
    new uPlot(
      {
        width: width(node),
        height: 200,
        scales: { x: { time: false } },
        series: [
          { label: d.name, value: (_u, v) => fmt(v) },
          {
            label: 'reference',
            stroke: GREY,
            fill: 'rgba(122,132,150,0.35)',
            width: 1,
            paths: uPlot.paths.stepped({ align: 1 }),
            points: { show: false },
            value: (_u, v) => fmt(v),
          },
          {
            label: 'window',
            stroke: ORANGE,
            fill: 'rgba(239,108,0,0.35)',
            width: 1.5,
            paths: uPlot.paths.stepped({ align: 1 }),
            points: { show: false },
            value: (_u, v) => fmt(v),
          },
        ],
        axes: [{ values: (_u, vs) => vs.map(fmt) }, { size: 60, values: (_u, vs) => vs.map(fmt) }],
      },
      [edges, density(d.reference, d.referenceN), density(d.window, windowTotal)],
      node,
    );
  }

  function shares(node, d) {
    var cats = d.categories;
    var xs = cats.map((_c, i) => i);
    var bars = (align) => uPlot.paths.bars({ size: [0.4, 60], align: align });
    new uPlot(
      {
        width: width(node),
        height: 220,
        scales: { x: { time: false, range: [-0.6, Math.max(0.6, cats.length - 0.4)] }, y: { range: [0, 1] } },
        series: [
          { label: 'category', value: (_u, v) => (v === null || !cats[v] ? '–' : cats[v].value) },
          {
            label: 'reference',
            stroke: GREY,
            fill: 'rgba(122,132,150,0.6)',
            paths: bars(-1),
            points: { show: false },
            value: (_u, v) => (v === null ? '–' : (v * 100).toFixed(1) + ' %'),
          },
          {
            label: 'window',
            stroke: ORANGE,
            fill: 'rgba(239,108,0,0.7)',
            paths: bars(1),
            points: { show: false },
            value: (_u, v) => (v === null ? '–' : (v * 100).toFixed(1) + ' %'),
          },
        ],
        axes: [
          {
            splits: () => xs,
            values: (_u, vs) =>
              vs.map((v) => {
                var c = cats[v];
                return c ? (c.value.length > 12 ? c.value.slice(0, 11) + '…' : c.value) : '';
              }),
            rotate: cats.length > 12 ? -45 : 0,
            size: cats.length > 12 ? 70 : 40,
          },
          { size: 50, values: (_u, vs) => vs.map((v) => Math.round(v * 100) + '%') },
        ],
      },
      [xs, cats.map((c) => c.referenceShare), cats.map((c) => c.windowShare)],
      node,
    );
  }

  function drawWindows() {
    document.querySelectorAll('[data-chart="hist"], [data-chart="shares"]').forEach((node) => {
      var d = detailOf(node.getAttribute('data-window'), node.getAttribute('data-column'));
      if (!d) return;
      if (d.kind === 'numeric') histogram(node, d);
      else shares(node, d);
    });
  }

  if (data.model) drawModel(data.model);
  if (data.windows) drawWindows();
  document.documentElement.setAttribute(
    'data-charts',
    String(document.querySelectorAll('.chart canvas').length),
  );
  // Milliseconds from navigation start to every chart drawn: what the benchmark reads.
  document.documentElement.setAttribute('data-charts-ms', String(Math.round(performance.now())));
})();
