// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

/// Devnet faucet: hands out LP in fixed drips, at most `capPerPeriod` per address per period, so one account
/// cannot drain it in a loop (a fresh account can, which is acceptable for a devnet faucet).
contract Faucet {
    using SafeERC20 for IERC20;

    IERC20 public immutable token;
    uint96 public immutable drip;
    uint96 public immutable capPerPeriod;
    uint40 public immutable period;

    struct Allowance {
        uint40 periodStart;
        uint96 claimed;
    }

    mapping(address => Allowance) public claims;

    event Dripped(address indexed to, uint256 amount);

    error FaucetCapReached(address account, uint256 nextPeriodAt);
    error FaucetEmpty(uint256 available, uint256 wanted);
    error InvalidFaucetConfig();

    constructor(IERC20 token_, uint96 drip_, uint96 capPerPeriod_, uint40 period_) {
        if (drip_ == 0 || capPerPeriod_ < drip_ || period_ == 0) revert InvalidFaucetConfig();
        token = token_;
        drip = drip_;
        capPerPeriod = capPerPeriod_;
        period = period_;
    }

    function claim() external {
        claimTo(msg.sender);
    }

    /// Lets a funded account (e.g. the devnet CLI) claim on behalf of a fresh key that has no ETH yet; the cap
    /// applies to the receiving address.
    function claimTo(address to) public {
        Allowance memory a = claims[to];
        if (block.timestamp >= uint256(a.periodStart) + period) {
            a.periodStart = uint40(block.timestamp);
            a.claimed = 0;
        }
        if (a.claimed + drip > capPerPeriod) revert FaucetCapReached(to, uint256(a.periodStart) + period);
        uint256 available = token.balanceOf(address(this));
        if (available < drip) revert FaucetEmpty(available, drip);
        a.claimed += drip;
        claims[to] = a;
        token.safeTransfer(to, drip);
        emit Dripped(to, drip);
    }
}
