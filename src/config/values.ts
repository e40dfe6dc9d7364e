// Value types several configuration sections share.
import { z } from "zod";

/** A switch: a boolean, or "on" / "off" / "true" / "false" (from the environment). */
export const onOff = z.union([z.boolean(), z.enum(["on", "off", "true", "false"])]).transform((v) => v === true || v === "on" || v === "true");
