// Each scenario of the live Prometheus test and the alerts it provokes; together, every
// alert of config/prometheus/alerts.yml (coverage.test.ts checks it). The burn-rate alerts
// are provoked at `page`, whose windows are short enough to be quiet before the
// scenario; the availability scenario provokes both severities.
import { any, page, ticket, type Cond } from "./live.js";

export const SCENARIOS = {
  // errors.test.ts
  rejections: [any("LoyaltyRejectionsHigh")],
  serverErrors: [page("LoyaltyAvailabilityBudgetBurn"), ticket("LoyaltyAvailabilityBudgetBurn"), any("LoyaltyDeadLetters")],
  // wedged.test.ts
  wedged: [any("LoyaltyPartitionStuck"), any("LoyaltyStreamLagHigh"), any("LoyaltyStreamBacklogGrowing")],
  // health.test.ts
  restarts: [any("LoyaltyEngineRestarting")],
  paused: [any("LoyaltyEngineDown")],
  natsDown: [any("LoyaltyNotReady")],
  // latency.test.ts
  slowPartitions: [page("LoyaltyAuthorizeLatencyBudgetBurn"), page("LoyaltyAccrueLatencyBudgetBurn")],
  overloadedPartitions: [page("LoyaltyStreamLatencyBudgetBurn"), any("LoyaltyPartitionSaturated")],
  // disk.test.ts
  diskFull: [any("LoyaltyDiskSpaceLow"), any("LoyaltyDiskFillingUp")],
} satisfies Record<string, Cond[]>;
