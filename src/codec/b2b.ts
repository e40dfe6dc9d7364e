// Distributors (B2B) on the wire: the company and users at enrolment, dated group
// changes, sales reports and their approval (docs/b2b.md).
import { z } from "zod";
import { limits } from "../limits.js";
import { address, atMostItems, calendarDate, currency, customerRef, id, minorUnitsUpTo, qty } from "./primitives.js";

export const company = z.object({ name: z.string().min(1).max(200), taxId: z.string().min(1).max(64), address: address.optional() }).strict();

/** What enroll takes besides a shopper's fields. */
export const b2bEnrollFields = {
  /** "distributor": a B2B participant (company data, sales reports); absent: a shopper. */
  kind: z.literal("distributor").optional(),
  company: company.optional(),
  /** Groups besides `group` (distributor groups), members from the start. */
  groups: atMostItems(id, limits.customerGroupsMax, "groups").optional(),
  /** The people who may submit reports for the participant (submitReport's `user`). */
  users: atMostItems(id, limits.customerUsersMax, "users").optional(),
};

const idChange = (max: number, what: string) =>
  z.object({ add: atMostItems(id, max, what).optional(), remove: atMostItems(id, max, what).optional() }).strict();

/** What updateCustomer takes besides a shopper's fields. */
export const b2bUpdateFields = {
  company: company.nullable().optional(),
  users: idChange(limits.customerUsersMax, "users").optional(),
};

/** The first day a group change takes effect (groups.from in updateCustomer); default: today. */
export const groupsFrom = calendarDate.optional();

const reportLine = z
  .object({
    invoice: id,
    /** The invoice's calendar date. */
    date: calendarDate,
    sku: id,
    qty,
    /** The line's amount, minor units. */
    amount: minorUnitsUpTo(limits.lineAmountMax),
  })
  .strict();
export type ReportLineInput = z.infer<typeof reportLine>;

export const submitReportRequest = z
  .object({
    requestId: id,
    customer: customerRef,
    reportId: id,
    /** Who submits, one of the participant's users; checked when given. */
    user: id.optional(),
    /** The lines' currency; default config reports.currency. */
    currency: currency.optional(),
    lines: z.array(reportLine).min(1).max(limits.reportLinesMax),
  })
  .strict();

const reason = z.string().min(1).max(500);

/** Approve or reject a report (admin): the path's id as `reportId`. */
export const approveReportRequest = z.object({ reportId: id, operator: id, reason: reason.optional() }).strict();
export const rejectReportRequest = z.object({ reportId: id, operator: id, reason }).strict();

/** A participant's sales targets and its progress towards each. */
export const targetsRequest = z.object({ customer: customerRef }).strict();

export const B2B_SCHEMAS = {
  targets: targetsRequest,
  submitReport: submitReportRequest,
  approveReport: approveReportRequest,
  rejectReport: rejectReportRequest,
} as const;
