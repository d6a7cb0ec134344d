// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {LilypadToken} from "lilypad/LilypadToken.sol";
import {Directory} from "lilypad/Directory.sol";
import {Market} from "lilypad/Market.sol";
import {CommitteeRules, Deal, MarketBounds} from "lilypad/LilypadTypes.sol";

/// The few forge cheatcodes used (npm's forge-std is broken, see STACK-NOTES).
interface Vm {
    function warp(uint256) external;
    function prank(address) external;
    function addr(uint256) external returns (address);
    function sign(uint256, bytes32) external returns (uint8, bytes32, bytes32);
    function assume(bool) external;
}

/// A contract wallet (ERC-1271) whose owner's key signs for it; `refuse` makes it answer no to everything.
contract Wallet1271 {
    address public immutable owner;
    bool public refuse;

    constructor(address owner_) {
        owner = owner_;
    }

    function setRefuse(bool r) external {
        refuse = r;
    }

    function isValidSignature(bytes32 hash, bytes calldata sig) external view returns (bytes4) {
        if (refuse || sig.length != 65) return 0xffffffff;
        (bytes32 r, bytes32 s) = (bytes32(sig[0:32]), bytes32(sig[32:64]));
        return ecrecover(hash, uint8(sig[64]), r, s) == owner ? bytes4(0x1626ba7e) : bytes4(0xffffffff);
    }

    function fund(LilypadToken token, Market market, uint256 amount) external {
        token.approve(address(market), amount);
        market.deposit(amount);
    }
}

/// Fuzzes amounts, windows and the path a deal takes; every path must conserve tokens and pay each party what
/// docs/contracts.md says.
contract MarketFuzz {
    Vm constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));
    uint256 constant JC_KEY = 0xA11CE;
    uint256 constant RP_KEY = 0xB0B;
    LilypadToken token;
    Directory directory;
    Market market;
    address jc;
    address rp;
    address mediator = address(0xBEEF);

    function setUp() public {
        jc = vm.addr(JC_KEY);
        rp = vm.addr(RP_KEY);
        token = new LilypadToken(address(this), 1e30);
        directory = new Directory(address(this));
        // bounds wide enough for every fuzzed window (1 s .. 1e6 s); tests/bounds.test.ts covers the bounds themselves
        market = new Market(token, directory, MarketBounds(1, 1e6, 1, 1e6, 1, 1e6, 1 days, 0), CommitteeRules(1, 0, 0, 0, 0, 0));
        directory.approveMediator(mediator);
        vm.prank(mediator);
        directory.register(8, "peer", "");
        token.transfer(jc, 1e27);
        token.transfer(rp, 1e27);
        vm.prank(jc);
        token.approve(address(market), type(uint256).max);
        vm.prank(rp);
        token.approve(address(market), type(uint256).max);
        vm.prank(jc);
        market.deposit(1e27);
        vm.prank(rp);
        market.deposit(1e27);
    }

    function _sign(uint256 key, bytes32 digest) internal returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    function testFuzz_everyPathConservesAndPays(uint96 price, uint96 collateral, uint96 fee, uint8 path, uint32 window) public {
        price = uint96(bound(price, 0, 1e24));
        fee = uint96(bound(fee, 0, 1e22));
        collateral = uint96(bound(collateral, fee, 1e24));
        window = uint32(bound(window, 1, 1e6));
        path = uint8(bound(path, 0, 6));
        address[] memory mediators = new address[](1);
        mediators[0] = mediator;
        Deal memory deal = Deal(bytes32(uint256(1)), bytes32(0), jc, rp, mediators, price, collateral, fee, 0, window, window, window, uint64(block.timestamp + 1), uint64(path));
        bytes32 id = market.dealId(deal);
        market.agree(deal, _sign(JC_KEY, id), _sign(RP_KEY, id));
        assert(token.balanceOf(address(market)) == market.deposits(jc) + market.deposits(rp) + price + fee + collateral);

        uint256 jc0 = 1e27;
        uint256 rp0 = 1e27;
        if (path == 0) {
            vm.warp(block.timestamp + uint256(window) + 1);
            market.timeoutResult(deal);
            _expect(jc0 + collateral, rp0 - collateral, 0);
            return;
        }
        if (path == 6) {
            // the job creator's acceptance signed off chain, settled with the result in one transaction
            bytes memory acceptance = _sign(JC_KEY, market.acceptanceDigest(id, "bafy"));
            vm.prank(rp);
            market.submitAcceptedResult(deal, "bafy", acceptance);
            _expect(jc0 - price, rp0 + price, 0);
            return;
        }
        vm.prank(rp);
        market.submitResult(deal, "bafy");
        Deal[] memory batch = new Deal[](1);
        batch[0] = deal;
        if (path == 1) {
            vm.warp(block.timestamp + uint256(window) + 1);
            market.settle(batch);
            _expect(jc0 - price, rp0 + price, 0);
            return;
        }
        if (path == 2) {
            vm.prank(jc);
            market.accept(batch);
            _expect(jc0 - price, rp0 + price, 0);
            return;
        }
        vm.prank(jc);
        market.challenge(deal);
        if (path == 5) {
            vm.warp(block.timestamp + uint256(window) + 1);
            market.timeoutMediation(deal);
            _expect(jc0 - price, rp0 + price, 0);
            return;
        }
        vm.prank(mediator);
        market.mediate(deal, path == 3);
        if (path == 3) _expect(jc0 - price - fee, rp0 + price, fee);
        else _expect(jc0 + collateral - fee, rp0 - collateral, fee);
    }

    /// A job creator that is a contract wallet: its deal and its acceptance are ERC-1271 signatures; a wallet that
    /// says no is refused, and its owner's bare ECDSA signature does not speak for the wallet's address.
    function test_contractWalletJobCreator() public {
        uint256 ownerKey = 0xC0FFEE;
        Wallet1271 wallet = new Wallet1271(vm.addr(ownerKey));
        token.transfer(address(wallet), 1e21);
        wallet.fund(token, market, 1e21);
        address[] memory mediators = new address[](1);
        mediators[0] = mediator;
        Deal memory deal = Deal(bytes32(uint256(3)), bytes32(0), address(wallet), rp, mediators, 1e18, 2e18, 1e17, 0, 60, 60, 60, uint64(block.timestamp + 1), 7);
        bytes32 id = market.dealId(deal);
        wallet.setRefuse(true);
        try market.agree(deal, _sign(ownerKey, id), _sign(RP_KEY, id)) {
            assert(false);
        } catch (bytes memory reason) {
            assert(bytes4(reason) == Market.InvalidSignature.selector);
        }
        wallet.setRefuse(false);
        market.agree(deal, _sign(ownerKey, id), _sign(RP_KEY, id));
        bytes32 digest = market.acceptanceDigest(id, "bafy");
        bytes memory byOwner = _sign(ownerKey, digest);
        wallet.setRefuse(true);
        vm.prank(rp);
        try market.submitAcceptedResult(deal, "bafy", byOwner) {
            assert(false);
        } catch (bytes memory reason) {
            assert(bytes4(reason) == Market.InvalidSignature.selector);
        }
        wallet.setRefuse(false);
        vm.prank(rp);
        market.submitAcceptedResult(deal, "bafy", byOwner);
        (uint8 state,,,) = market.deals(id);
        assert(state == 4); // Settled
        assert(market.deposits(address(wallet)) == 1e21 - 1e18);
    }

    /// An acceptance of one result never settles the deal with another (any other CID, any length).
    function testFuzz_acceptanceBindsTheResult(string calldata other, uint64 nonce) public {
        vm.assume(bytes(other).length != 0 && keccak256(bytes(other)) != keccak256("bafy"));
        address[] memory mediators = new address[](1);
        mediators[0] = mediator;
        Deal memory deal = Deal(bytes32(uint256(2)), bytes32(0), jc, rp, mediators, 1e18, 2e18, 1e17, 0, 60, 60, 60, uint64(block.timestamp + 1), nonce);
        bytes32 id = market.dealId(deal);
        market.agree(deal, _sign(JC_KEY, id), _sign(RP_KEY, id));
        bytes memory acceptance = _sign(JC_KEY, market.acceptanceDigest(id, "bafy"));
        vm.prank(rp);
        try market.submitAcceptedResult(deal, other, acceptance) {
            assert(false);
        } catch (bytes memory reason) {
            assert(bytes4(reason) == Market.InvalidSignature.selector);
        }
        (uint8 state,,,) = market.deals(id);
        assert(state == 1); // still Agreed
    }

    function _expect(uint256 jcBal, uint256 rpBal, uint256 medBal) internal view {
        assert(market.deposits(jc) == jcBal);
        assert(market.deposits(rp) == rpBal);
        assert(market.deposits(mediator) == medBal);
        assert(token.balanceOf(address(market)) == jcBal + rpBal + medBal);
    }

    function bound(uint256 x, uint256 lo, uint256 hi) internal pure returns (uint256) {
        return lo + (x % (hi - lo + 1));
    }
}
