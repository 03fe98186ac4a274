// Quotes test cases with Raydium's own CurveCalculator (@raydium-io/raydium-sdk-v2).
// stdin: a JSON array of cases {kind: "base_input" | "base_output", amount, inputVault, outputVault,
// tradeFeeRate, creatorFeeRate, protocolFeeRate, fundFeeRate, isCreatorFeeOnInput}, integers as strings.
// stdout: a JSON array of results in the same order, integers as decimal strings, or {error} when the SDK
// throws.
"use strict";

const BN = require("bn.js");
const { CurveCalculator } = require("@raydium-io/raydium-sdk-v2");

function quote(c) {
  const args = [
    new BN(c.amount),
    new BN(c.inputVault),
    new BN(c.outputVault),
    new BN(c.tradeFeeRate),
    new BN(c.creatorFeeRate),
    new BN(c.protocolFeeRate),
    new BN(c.fundFeeRate),
    Boolean(c.isCreatorFeeOnInput),
  ];
  let r;
  if (c.kind === "base_input") {
    r = CurveCalculator.swapBaseInput(...args);
  } else if (c.kind === "base_output") {
    r = CurveCalculator.swapBaseOutput(...args);
  } else {
    throw new Error(`unknown case kind ${c.kind}`);
  }
  const out = {};
  for (const [key, value] of Object.entries(r)) {
    out[key] = value.toString(10);
  }
  return out;
}

function main() {
  const cases = JSON.parse(require("fs").readFileSync(0, "utf8"));
  const results = cases.map((c) => {
    try {
      return quote(c);
    } catch (e) {
      return { error: String(e && e.message ? e.message : e) };
    }
  });
  process.stdout.write(JSON.stringify(results));
}

main();
