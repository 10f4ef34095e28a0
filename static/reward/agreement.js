// Plots of /agreement/: accuracy per axis with 95% whiskers beside the baselines and the human ceiling, and a
// reliability diagram. The figures come embedded in the page (json_script), the same ones the tables show.
import { Chart, registerables } from "chart.js";
import {
  BarWithErrorBarsController,
  BarWithErrorBar,
  ScatterWithErrorBarsController,
  PointWithErrorBar,
} from "chartjs-chart-error-bars";

Chart.register(...registerables, BarWithErrorBarsController, BarWithErrorBar, ScatterWithErrorBarsController,
  PointWithErrorBar);

// The axes' labels come from the page (core/axes.py through json_script), not from a list kept here.
const LABELS = Object.fromEntries(
  JSON.parse(document.getElementById("axis-vocabulary").textContent).map((axis) => [axis.value, axis.label]),
);
const COLOURS = {
  model: "#2f6fdf",
  coin: "#9a9a9a",
  always_a: "#c4a35a",
  prior: "#7a5cc2",
  ceiling: "#2e9d63",
};

function estimate(entry) {
  if (!entry) return null;
  const base = entry.bootstrap ? entry.bootstrap : entry;
  if (base.value === null || base.value === undefined) return null;
  return { y: base.value, yMin: base.low ?? base.value, yMax: base.high ?? base.value, n: base.n };
}

function accuracyChart(figures) {
  const axes = Object.keys(figures.axes || {});
  const series = [
    ["Model", COLOURS.model, (a) => estimate(a.model?.accuracy)],
    ["Fair coin", COLOURS.coin, (a) => estimate(a.baselines?.coin_flip)],
    ["Always A", COLOURS.always_a, (a) => estimate(a.baselines?.always_a)],
    ["Rating prior", COLOURS.prior, (a) => estimate(a.baselines?.rating_prior?.accuracy)],
    ["People vs people", COLOURS.ceiling, (a) => estimate(a.ceiling?.pairwise_agreement)],
  ];
  const datasets = series.map(([label, colour, pick]) => ({
    label,
    backgroundColor: colour,
    errorBarColor: "#222",
    errorBarWhiskerColor: "#222",
    data: axes.map((axis) => pick(figures.axes[axis]) ?? { y: null, yMin: null, yMax: null, n: 0 }),
  }));
  return new Chart(document.getElementById("accuracy-chart"), {
    type: BarWithErrorBarsController.id,
    data: { labels: axes.map((axis) => LABELS[axis] || axis), datasets },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      scales: { y: { min: 0, max: 1, title: { display: true, text: "share of non-tie votes" } } },
      plugins: {
        tooltip: {
          callbacks: {
            label(context) {
              const point = context.raw;
              if (point.y === null) return `${context.dataset.label}: not available`;
              return `${context.dataset.label}: ${point.y.toFixed(3)} [${point.yMin.toFixed(3)}, ` +
                `${point.yMax.toFixed(3)}], n = ${point.n}`;
            },
          },
        },
      },
    },
  });
}

function reliabilityChart(figures) {
  const palette = [COLOURS.model, COLOURS.prior, COLOURS.ceiling];
  const datasets = Object.entries(figures.axes || {}).map(([axis, data], index) => ({
    label: `${LABELS[axis] || axis} (n = ${data.model?.calibration?.n ?? 0})`,
    showLine: true,
    borderColor: palette[index % palette.length],
    backgroundColor: palette[index % palette.length],
    errorBarColor: palette[index % palette.length],
    data: (data.model?.calibration?.bins || [])
      .filter((bin) => bin.count > 0 && bin.observed !== null)
      .map((bin) => ({
        x: bin.mean_predicted,
        y: bin.observed,
        yMin: bin.observed_low ?? bin.observed,
        yMax: bin.observed_high ?? bin.observed,
        count: bin.count,
      })),
  }));
  datasets.push({
    label: "Perfect calibration",
    type: "line",
    data: [{ x: 0, y: 0 }, { x: 1, y: 1 }],
    borderColor: "#999",
    borderDash: [6, 4],
    pointRadius: 0,
  });
  return new Chart(document.getElementById("reliability-chart"), {
    type: ScatterWithErrorBarsController.id,
    data: { datasets },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      scales: {
        x: { type: "linear", min: 0, max: 1, title: { display: true, text: "predicted P(A preferred)" } },
        y: { min: 0, max: 1, title: { display: true, text: "observed share preferring A" } },
      },
      plugins: {
        tooltip: {
          callbacks: {
            label(context) {
              const point = context.raw;
              if (point.count === undefined) return context.dataset.label;
              return `predicted ${point.x.toFixed(2)}, observed ${point.y.toFixed(2)} ` +
                `[${point.yMin.toFixed(2)}, ${point.yMax.toFixed(2)}], n = ${point.count}`;
            },
          },
        },
      },
    },
  });
}

const source = document.getElementById("agreement-figures");
if (source) {
  const figures = JSON.parse(source.textContent);
  const charts = { accuracy: accuracyChart(figures), reliability: reliabilityChart(figures) };
  // Exposed for the page's browser test, which checks the charts drew the report's own figures.
  window.earshotAgreementCharts = charts;
  document.getElementById("agreement").dataset.chartsReady = "true";
}
