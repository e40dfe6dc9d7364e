// Numbers and dates: web/shared/format.ts, which the participant portal uses too.
export { day, millis, num, when } from "../../shared/format.js";
