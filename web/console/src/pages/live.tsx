// Live: events per second, latency quantiles, errors and stream lag, from the engine's own
// /metrics every 2 seconds over a 10-second window (for the operator who runs no Grafana).
import { useEffect, useRef, useState } from "preact/hooks";
import { figuresOf, type Figures, type Sample } from "../../../../src/demo/status.js";
import { millis, num } from "../format.js";
import { parseMetrics, sampleOf } from "../metrics.js";
import { t } from "../strings.js";
import { Page, Result, type Outcome } from "../ui.js";

const EVERY_MS = 2000;
const WINDOW_MS = 10_000;

export function LivePage() {
  const samples = useRef<Sample[]>([]);
  const [figures, setFigures] = useState<Figures | null>(null);
  const [outcome, setOutcome] = useState<Outcome>(null);
  useEffect(() => {
    let stopped = false;
    const tick = async () => {
      try {
        const res = await fetch("/metrics", { cache: "no-store" });
        const now = Date.now();
        const list = samples.current;
        list.push(sampleOf(parseMetrics(await res.text()), now));
        while (list.length > 2 && now - list[1]!.atMs >= WINDOW_MS) list.shift();
        if (!stopped && list.length >= 2) setFigures(figuresOf(list[list.length - 1]!, list[0]!));
        setOutcome(null);
      } catch (error) {
        setOutcome({ ok: false, error });
      }
    };
    tick();
    const timer = setInterval(tick, EVERY_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, []);
  const tiles: [string, string][] = figures
    ? [
        [t("eventsPerSec"), num(Math.round(figures.eventsPerSec * 10) / 10)],
        [t("accrualP99"), millis(figures.accrual.p99)],
        [t("authorizeP99"), millis(figures.authorize.p99)],
        [t("errorsPerSec"), num(Math.round(figures.errorsPerSec * 10) / 10)],
        [t("lag"), num(figures.lagMessages)],
        [t("ackPending"), num(figures.ackPending)],
        [t("totalEvents"), num(figures.eventsTotal)],
      ]
    : [];
  return (
    <Page title={t("liveTitle")}>
      <p class="help">{t("liveHelp")}</p>
      <Result outcome={outcome} />
      {!figures && <p aria-live="polite">{t("waiting")}</p>}
      {figures && (
        <>
          <dl class="tiles" aria-live="off">
            {tiles.map(([label, value]) => (
              <div class="tile" key={label}><dt>{label}</dt><dd>{value}</dd></div>
            ))}
          </dl>
          <h2>{t("errorCodes")}</h2>
          {figures.errorCodes.length === 0 ? <p>–</p> : <ul>{figures.errorCodes.map(([code, n]) => <li key={code}>{code}: {num(n)}</li>)}</ul>}
        </>
      )}
    </Page>
  );
}
