// The words of the shared building blocks (ui.tsx), in the same form as each app's own table.
import { translator } from "./i18n.js";

const en = {
  loading: "Loading…",
  errorPrefix: "Error",
  errorField: "field {field}",
  confirm: "Confirm",
  cancel: "Cancel",
};

// Another language is added here together with the apps' own tables (a Polish app with English
// building blocks, or the reverse, would read oddly).
export const t = translator(en, {});
