// A distributor's targets (progress towards each goal) and its own place in the ranking.
import { useState } from "preact/hooks";
import { day, num } from "../../../shared/format.js";
import { Field, Loading, Page, useLoad } from "../../../shared/ui.js";
import { me, type Json } from "../api.js";
import type { PageProps } from "../main.js";
import { t, type StringKey } from "../strings.js";

const METRICS = ["points", "qty", "amount"] as const;
const isoDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

export function ProgressPage(_: PageProps) {
  const targets = useLoad(() => me<{ targets: Json[] }>("/targets"), []);
  const [metric, setMetric] = useState<(typeof METRICS)[number]>("points");
  const to = isoDay(Date.now());
  const from = isoDay(Date.now() - 30 * 86_400_000);
  const ranking = useLoad(() => me<Json>(`/ranking?metric=${metric}&from=${from}&to=${to}`), [metric]);
  return (
    <Page title={t("navProgress")}>
      <div class="grid">
        <section class="card" aria-labelledby="targets">
          <h2 id="targets">{t("targets")}</h2>
          <Loading state={targets} />
          {targets.data && targets.data.targets.length === 0 && <p>{t("noTargets")}</p>}
          {targets.data?.targets.map((g) => {
            const id = `target-${g.targetId}`;
            return (
              <div class="field">
                <span id={id}><strong>{g.targetId}</strong> · {t("progress", { achieved: num(g.achieved), goal: num(g.goal) })} · {t("targetPoints", { points: num(g.points) })}{g.reached ? ` · ${t("targetReached")}` : ""}</span>
                <progress aria-labelledby={id} max={g.goal} value={Math.min(g.achieved, g.goal)} />
                <small>{t("daysLeftN", { days: g.daysLeft })} ({day(g.to)})</small>
              </div>
            );
          })}
        </section>
        <section class="card" aria-labelledby="ranking">
          <h2 id="ranking">{t("ranking")}</h2>
          <p class="help">{t("rankingPeriod")}: {from} – {to}</p>
          <Field label={t("metric")}>
            {(id) => (
              <select id={id} value={metric} onChange={(e) => setMetric(e.currentTarget.value as typeof metric)}>
                {METRICS.map((m) => <option value={m}>{t(`metric_${m}` as StringKey)}</option>)}
              </select>
            )}
          </Field>
          <Loading state={ranking} />
          {ranking.data && (ranking.data.position ? (
            <p class="balance" role="status">{t("rank", { rank: num(ranking.data.position.rank), participants: num(ranking.data.participants) })}</p>
          ) : (
            <p role="status">{t("unranked")}</p>
          ))}
        </section>
      </div>
    </Page>
  );
}
