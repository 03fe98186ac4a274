// Quotes test cases with Meteora's own DLMM SDK (@meteora-ag/dlmm), offline on hand-built pair state.
// stdin: a JSON array of cases, integers as strings or numbers:
//   {kind: "swap", binStep, activeId, parameters, vParameters, binArrayBitmap, bins: [[id, x, y], ...],
//    amountIn, swapForY, now, partialFill}
//   {kind: "price", binId, binStep}            -> getQPriceFromId
//   {kind: "arrayIndex", binId}                -> binIdToBinArrayIndex
//   {kind: "fee", binStep, parameters, volatilityAccumulator}  -> getBaseFee, getVariableFee, getTotalFee
// stdout: a JSON array of results in the same order, integers as decimal strings, or {error} when the SDK
// throws.
"use strict";

const BN = require("bn.js");
const DLMM = require("@meteora-ag/dlmm");

const BINS_PER_ARRAY = 70;
const realDateNow = Date.now;
const priceCache = new Map();

function qPrice(binId, binStep) {
  const key = `${binStep}:${binId}`;
  let price = priceCache.get(key);
  if (price === undefined) {
    price = DLMM.getQPriceFromId(new BN(binId), new BN(binStep));
    priceCache.set(key, price);
  }
  return price;
}

function sParameters(p) {
  return {
    baseFactor: Number(p.baseFactor),
    filterPeriod: Number(p.filterPeriod),
    decayPeriod: Number(p.decayPeriod),
    reductionFactor: Number(p.reductionFactor),
    variableFeeControl: Number(p.variableFeeControl),
    maxVolatilityAccumulator: Number(p.maxVolatilityAccumulator),
    minBinId: -443636,
    maxBinId: 443636,
    protocolShare: Number(p.protocolShare),
    baseFeePowerFactor: Number(p.baseFeePowerFactor),
    // 1: liquidity mining, i.e. no limit orders; 0: fees on the input only.
    functionType: 1,
    collectFeeMode: 0,
    padding: [],
  };
}

function emptyBin(binId, binStep) {
  return {
    amountX: new BN(0),
    amountY: new BN(0),
    price: qPrice(binId, binStep),
    liquiditySupply: new BN(0),
    rewardPerTokenStored: [new BN(0), new BN(0)],
    feeAmountXPerTokenStored: new BN(0),
    feeAmountYPerTokenStored: new BN(0),
    amountXIn: new BN(0),
    amountYIn: new BN(0),
    openOrderAmount: new BN(0),
    processedOrderRemainingAmount: new BN(0),
    limitOrderAskSide: 0,
  };
}

function binArrays(c) {
  const arrays = new Map();
  for (const [rawId, amountX, amountY] of c.bins) {
    const binId = Number(rawId);
    const index = Math.floor(binId / BINS_PER_ARRAY);
    let array = arrays.get(index);
    if (array === undefined) {
      const lower = index * BINS_PER_ARRAY;
      const bins = [];
      for (let i = 0; i < BINS_PER_ARRAY; i++) bins.push(emptyBin(lower + i, c.binStep));
      array = {
        publicKey: `binArray:${index}`,
        account: { index: new BN(index), version: 1, lbPair: "lbPair", bins },
      };
      arrays.set(index, array);
    }
    const bin = array.account.bins[binId - index * BINS_PER_ARRAY];
    bin.amountX = new BN(amountX);
    bin.amountY = new BN(amountY);
    bin.liquiditySupply = new BN(1);
  }
  return [...arrays.values()];
}

function token(mint, decimals) {
  return {
    mint: { address: mint, tlvData: Buffer.alloc(0), decimals },
    publicKey: mint,
    reserve: `${mint}:reserve`,
    amount: 0n,
    owner: "token-program",
  };
}

function swap(c) {
  const v = c.vParameters;
  const lbPair = {
    parameters: sParameters(c.parameters),
    vParameters: {
      volatilityAccumulator: Number(v.volatilityAccumulator),
      volatilityReference: Number(v.volatilityReference),
      indexReference: Number(v.indexReference),
      lastUpdateTimestamp: new BN(v.lastUpdateTimestamp),
    },
    activeId: Number(c.activeId),
    binStep: Number(c.binStep),
    binArrayBitmap: c.binArrayBitmap.map((word) => new BN(word)),
    rewardInfos: [],
  };
  const clock = {
    slot: new BN(1),
    epochStartTimestamp: new BN(0),
    epoch: new BN(1),
    leaderScheduleEpoch: new BN(1),
    unixTimestamp: new BN(c.now),
  };
  const dlmm = new DLMM("lbPair", null, lbPair, null, token("mintX", 9), token("mintY", 6), [], clock);
  // swapQuote reads the wall clock for the volatility decay: pin it to the case's time.
  Date.now = () => Number(c.now) * 1000;
  try {
    const q = dlmm.swapQuote(new BN(c.amountIn), Boolean(c.swapForY), new BN(0), binArrays(c), Boolean(c.partialFill));
    return {
      consumedInAmount: q.consumedInAmount.toString(10),
      outAmount: q.outAmount.toString(10),
      fee: q.fee.toString(10),
      protocolFee: q.protocolFee.toString(10),
      minOutAmount: q.minOutAmount.toString(10),
      priceImpact: q.priceImpact.isFinite() ? q.priceImpact.toFixed() : q.priceImpact.toString(),
    };
  } finally {
    Date.now = realDateNow;
  }
}

function fee(c) {
  const s = sParameters(c.parameters);
  const v = { volatilityAccumulator: Number(c.volatilityAccumulator) };
  const binStep = Number(c.binStep);
  return {
    baseFee: DLMM.getBaseFee(binStep, s).toString(10),
    variableFee: DLMM.getVariableFee(binStep, s, v).toString(10),
    totalFee: DLMM.getTotalFee(binStep, s, v).toString(10),
  };
}

function run(c) {
  switch (c.kind) {
    case "swap":
      return swap(c);
    case "price":
      return { price: DLMM.getQPriceFromId(new BN(c.binId), new BN(c.binStep)).toString(10) };
    case "arrayIndex":
      return { index: DLMM.binIdToBinArrayIndex(new BN(c.binId)).toString(10) };
    case "fee":
      return fee(c);
    default:
      throw new Error(`unknown case kind ${c.kind}`);
  }
}

function main() {
  const cases = JSON.parse(require("fs").readFileSync(0, "utf8"));
  const results = cases.map((c) => {
    try {
      return run(c);
    } catch (e) {
      return { error: String(e && e.message ? e.message : e) };
    }
  });
  process.stdout.write(JSON.stringify(results));
}

main();
