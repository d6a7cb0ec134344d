// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// The part of the LP token (an ERC-20) a job client needs: it pays the JobManager by allowance.
interface ILilypadToken {
    function approve(address spender, uint256 amount) external returns (bool);
    function transfer(address to, uint256 amount) external returns (bool);
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
    function balanceOf(address account) external view returns (uint256);
    function allowance(address owner, address spender) external view returns (uint256);
}
