// Placeholder until the contracts land: the build step that compiles Solidity and generates typed artifacts.
console.log('contracts: nothing to build yet')
