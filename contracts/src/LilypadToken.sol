// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";

/// LP: the market's unit of payment and collateral. Fixed supply minted once to the deployer, so conservation
/// checks can compare against a constant total supply; permit lets a deposit be a single transaction.
contract LilypadToken is ERC20, ERC20Permit {
    constructor(address holder, uint256 supply) ERC20("Lilypad", "LP") ERC20Permit("Lilypad") {
        _mint(holder, supply);
    }
}
