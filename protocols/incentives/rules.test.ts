import test from 'ava'
import { defaultRewardRules, rulesFromJson, rulesHash, rulesToJson, InvalidRewardRulesError } from './rules.ts'
import { setupFromJson, setupToJson, defaultRewardsConfig, InvalidRewardsSetupError } from './config.ts'
import { isAddress } from 'ethers'

test('rules: canonical JSON round-trips, and every field changes the hash', t => {
  const json = rulesToJson(defaultRewardRules)
  t.deepEqual(rulesFromJson(JSON.parse(json)), defaultRewardRules)
  t.is(rulesToJson(rulesFromJson(JSON.parse(json))), json)
  const keys = Object.keys(JSON.parse(json) as object)
  t.deepEqual(keys, [...keys].sort(), 'keys in sorted order')
  const hashes = new Set([rulesHash(defaultRewardRules)])
  for (const k of Object.keys(defaultRewardRules).filter(k => k !== 'version') as Array<keyof typeof defaultRewardRules>) {
    const v = defaultRewardRules[k]
    hashes.add(rulesHash({ ...defaultRewardRules, [k]: typeof v === 'bigint' ? v + 1n : (v as number) + 1 }))
  }
  t.is(hashes.size, Object.keys(defaultRewardRules).length)
})

test('rules: bad JSON is refused by name, with the field', t => {
  const good = JSON.parse(rulesToJson(defaultRewardRules)) as Record<string, unknown>
  for (const [bad, re] of [
    [{ ...good, version: 2 }, /version/],
    [{ ...good, extra: 1 }, /unknown reward rule "extra"/],
    [{ ...good, epochBudget: 5 }, /epochBudget/],
    [{ ...good, epochBudget: '1e18' }, /epochBudget/],
    [{ ...good, paidRewardPpm: 1_000_001 }, /paidRewardPpm/],
    [{ ...good, minPasses: -1 }, /minPasses/],
    [null, /object/]
  ] as Array<[unknown, RegExp]>) {
    const err = t.throws(() => rulesFromJson(bad), { instanceOf: InvalidRewardRulesError })
    t.regex(err?.message ?? '', re)
  }
})

test('setup: the network file\'s rewards section, and rules that do not match the deployed hash are refused', t => {
  const setup = { config: defaultRewardsConfig(1000, defaultRewardRules), rules: defaultRewardRules, publishers: ['0x' + '1'.repeat(40)], validators: [] }
  const json = setupToJson(setup)
  t.deepEqual(setupFromJson(JSON.parse(JSON.stringify(json)), isAddress), setup)
  const tampered = { ...json, rules: { ...json.rules, paidRewardPpm: 900_000 } }
  t.throws(() => setupFromJson(tampered, isAddress), { instanceOf: InvalidRewardsSetupError, message: /do not hash/ })
  t.throws(() => setupFromJson({ ...json, publishers: ['me'] }, isAddress), { instanceOf: InvalidRewardsSetupError, message: /publishers/ })
  t.throws(() => setupFromJson({ ...json, config: { ...json.config, epochLength: 0 } }, isAddress), { instanceOf: InvalidRewardsSetupError, message: /epochLength/ })
})
