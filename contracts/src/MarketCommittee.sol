// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {Deal, DealStates, CommitteeRules} from "./LilypadTypes.sol";
import {MarketState} from "./MarketState.sol";

/// The committee's closing code, run by the Market with DELEGATECALL on the Market's own storage (MarketState is
/// both contracts' layout): `finalizeCommittee`, and the last reveal of a vote, which closes it in the same
/// transaction. It sits here because the Market's runtime code is at EIP-170's 24,576 bytes; the Market deploys it
/// in its constructor with the same rules, so the two cannot disagree. Called directly it refuses (it would only see
/// its own empty storage, but nothing should be run there).
contract MarketCommittee is MarketState {
    error NotDelegated();

    /// the Market that deployed this code, the only context it runs in
    address internal immutable market;
    uint32 internal immutable commitWindow;
    uint32 internal immutable revealWindow;
    uint96 internal immutable bondSlash;

    constructor(CommitteeRules memory c) EIP712("Lilypad", "1") {
        market = msg.sender;
        commitWindow = c.commitWindow;
        revealWindow = c.revealWindow;
        bondSlash = c.slash;
    }

    /// The Market's `finalizeCommittee`, the deal opened (Challenged, a committee's), `since` its record's and `c` its
    /// committee as it stands (the closing reveal's, not yet written): see there for when and how it closes the dispute.
    function finalize(bytes32 id, Deal calldata deal, uint32 since, Committee memory c) external {
        if (address(this) != market) revert NotDelegated();
        uint16 majority;
        uint16 slashed;
        uint8 state;
        uint256 pot = deal.mediationFee;
        if (c.drawnAt == 0) {
            uint256 deadline = uint256(since) + revealWindow;
            if (block.timestamp <= deadline && block.number <= uint256(c.seedBlock) + SEED_BLOCKS) {
                revert SeedRevealOpen(deadline);
            }
            uint8 revealed = c.seeds & (SEED_JOB_CREATOR | SEED_PROVIDER);
            state = revealed == SEED_PROVIDER
                ? DealStates.MediatedCorrect
                : revealed == SEED_JOB_CREATOR ? DealStates.MediatedWrong : DealStates.TimedOutMediation;
            emit SeedWithheld(id, revealed);
        } else {
            uint256 commitEnd = c.allCommittedAt != 0 ? c.allCommittedAt : uint256(c.drawnAt) + commitWindow;
            uint256 revealEnd = commitEnd + revealWindow;
            bool over = block.timestamp > revealEnd
                || ((c.allCommittedAt != 0 || block.timestamp > commitEnd) && c.revealed == c.committed);
            if (!over) revert VotingOpen(revealEnd);

            uint16 all = uint16((1 << c.k) - 1);
            uint16 no = c.revealed & ~c.verdicts & ~c.noCase;
            uint256 quorum = c.k / 2 + 1;
            // a member that said "no case" is neither paid nor slashed; everyone else not in the majority is slashed
            if (_count(c.verdicts) >= quorum) {
                (state, majority, slashed) = (DealStates.MediatedCorrect, c.verdicts, all & ~c.verdicts & ~c.noCase);
            } else if (_count(no) >= quorum) {
                (state, majority, slashed) = (DealStates.MediatedWrong, no, all & ~no & ~c.noCase);
            } else {
                (state, slashed) = (DealStates.TimedOutMediation, all & ~c.revealed);
            }
            for (uint256 i; i < c.k; ++i) {
                if (slashed & (1 << i) != 0) pot += _slash(_member(deal, c, i), id);
            }
        }
        deals[id].state = state;
        delete committees[id];
        if (state == DealStates.TimedOutMediation) {
            deposits[deal.resourceProvider] += uint256(deal.price) + deal.collateral;
            if (pot != 0) deposits[deal.jobCreator] += pot;
            emit DealTimedOut(id, deal.jobCreator, deal.resourceProvider, TIMEOUT_MEDIATION);
        } else {
            address winner = state == DealStates.MediatedCorrect ? deal.resourceProvider : deal.jobCreator;
            uint256 count = _count(majority);
            // no majority with a verdict: a withheld seed, the fee to the party that revealed
            deposits[winner] += uint256(deal.price) + deal.collateral + (count == 0 ? pot : 0);
            if (count != 0) {
                uint256 share = pot / count;
                uint256 rest = pot - share * count;
                for (uint256 i; i < c.k; ++i) {
                    if (majority & (1 << i) == 0) continue;
                    uint256 amount = share + rest;
                    rest = 0;
                    if (amount != 0) deposits[_member(deal, c, i)] += amount;
                }
            }
            emit DealMediated(id, address(0), deal.resourceProvider, state == DealStates.MediatedCorrect);
        }
        emit CommitteeFinalized(id, state, majority, slashed, c.noCase);
    }

    /// Takes up to `bondSlash` from the member's bond, then from what it is unbonding; returns what was taken.
    function _slash(address m, bytes32 id) internal returns (uint256 taken) {
        Bond storage b = bonds[m];
        uint256 want = bondSlash;
        uint256 fromBond = b.amount < want ? b.amount : want;
        uint256 fromUnbonding = want - fromBond;
        if (fromUnbonding > b.unbonding) fromUnbonding = b.unbonding;
        if (fromBond != 0) b.amount -= fromBond;
        if (fromUnbonding != 0) b.unbonding -= fromUnbonding;
        taken = fromBond + fromUnbonding;
        if (taken != 0) emit BondSlashed(m, id, taken);
    }
}
