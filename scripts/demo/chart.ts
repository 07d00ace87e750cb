/**
 * The demo report's PNG: three stacked time charts (request latency p50/p99, throughput ok/failed, CDC/ETL lag)
 * sharing one time axis, with the migration's phase boundaries drawn as labelled vertical lines on each. Rendered
 * with Chart.js on @napi-rs/canvas (Skia; prebuilt binaries ship inside the npm package, nothing is downloaded).
 */
import { createCanvas, type Canvas } from '@napi-rs/canvas';
import { Chart, registerables, type ChartConfiguration, type Plugin } from 'chart.js';

Chart.register(...registerables);
Chart.defaults.font.family = 'DejaVu Sans, Liberation Sans, Arial, sans-serif';

/** One line of a panel; null y values leave a gap. */
export interface Series {
  readonly label: string;
  readonly points: readonly { readonly t: number; readonly y: number | null }[];
  readonly color: string;
  readonly dashed?: boolean;
}

/** One chart of the stacked image. */
export interface Panel {
  readonly title: string;
  readonly yLabel: string;
  readonly series: readonly Series[];
  readonly logScale?: boolean;
}

/** A phase boundary: `t` seconds since the run started. */
export interface Marker {
  readonly t: number;
  readonly label: string;
}

const WIDTH = 1400;
const PANEL_HEIGHT = 330;

function markerPlugin(markers: readonly Marker[]): Plugin<'line'> {
  return {
    id: 'phaseMarkers',
    afterDatasetsDraw(chart) {
      const { ctx, chartArea, scales } = chart;
      ctx.save();
      ctx.strokeStyle = 'rgba(90,90,90,0.8)';
      ctx.fillStyle = 'rgba(60,60,60,1)';
      ctx.setLineDash([5, 4]);
      ctx.font = '11px DejaVu Sans, sans-serif';
      markers.forEach((m, i) => {
        const x = scales.x.getPixelForValue(m.t);
        if (x < chartArea.left || x > chartArea.right) return;
        ctx.beginPath();
        ctx.moveTo(x, chartArea.top);
        ctx.lineTo(x, chartArea.bottom);
        ctx.stroke();
        ctx.fillText(m.label, x + 3, chartArea.top + 12 + (i % 4) * 12);
      });
      ctx.restore();
    },
  };
}

function renderPanel(p: Panel, markers: readonly Marker[], maxT: number): { canvas: Canvas; chart: Chart<'line', { x: number; y: number | null }[]> } {
  const canvas = createCanvas(WIDTH, PANEL_HEIGHT);
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = 'white';
  ctx.fillRect(0, 0, WIDTH, PANEL_HEIGHT);
  const config: ChartConfiguration<'line', { x: number; y: number | null }[]> = {
    type: 'line',
    data: {
      datasets: p.series.map((s) => ({
        label: s.label,
        data: s.points.map((pt) => ({ x: pt.t, y: pt.y })),
        borderColor: s.color,
        backgroundColor: s.color,
        borderWidth: 1.5,
        borderDash: s.dashed ? [6, 3] : undefined,
        pointRadius: 0,
        spanGaps: false,
      })),
    },
    options: {
      animation: false,
      responsive: false,
      devicePixelRatio: 1,
      parsing: false,
      plugins: { title: { display: true, text: p.title }, legend: { position: 'top', align: 'end' } },
      scales: {
        x: { type: 'linear', min: 0, max: Math.max(1, maxT), title: { display: true, text: 'seconds since start' } },
        // A fixed y-axis width keeps the three panels' time axes aligned.
        y: { type: p.logScale ? 'logarithmic' : 'linear', beginAtZero: !p.logScale, title: { display: true, text: p.yLabel }, afterFit: (axis) => { axis.width = 80; } },
      },
    },
    plugins: [markerPlugin(markers)],
  };
  // Chart.js clears its canvas on destroy(): the caller copies the pixels first, then destroys.
  return { canvas, chart: new Chart(ctx as unknown as ConstructorParameters<typeof Chart>[0], config) };
}

/** The PNG bytes of `panels` stacked vertically, each with `markers`. */
export function renderChartPng(panels: readonly Panel[], markers: readonly Marker[]): Buffer {
  const maxT = Math.max(1, ...panels.flatMap((p) => p.series.flatMap((s) => s.points.map((pt) => pt.t))), ...markers.map((m) => m.t));
  const out = createCanvas(WIDTH, PANEL_HEIGHT * panels.length);
  const ctx = out.getContext('2d');
  ctx.fillStyle = 'white';
  ctx.fillRect(0, 0, WIDTH, PANEL_HEIGHT * panels.length);
  panels.forEach((p, i) => {
    const { canvas, chart } = renderPanel(p, markers, maxT);
    ctx.drawImage(canvas, 0, i * PANEL_HEIGHT);
    chart.destroy();
  });
  return out.toBuffer('image/png');
}
