// The words of the shared building blocks (ui.tsx), in the same form as each app's own table.
import { translator } from "./i18n.js";

const en = {
  loading: "Loading…",
  errorPrefix: "Error",
  errorField: "field {field}",
  confirm: "Confirm",
  cancel: "Cancel",
};

const pl: Partial<typeof en> = {
  loading: "Wczytywanie…",
  errorPrefix: "Błąd",
  errorField: "pole {field}",
  confirm: "Potwierdź",
  cancel: "Anuluj",
};

export const t = translator(en, { pl });
